"""The proof that each deploy stage's schema serves every release running against it.

- schema.py: the database schema (tables, views, columns) as releases meet it;
- derive.py: the schema the migrations leave, operation by operation;
- types.py: whether a column's type takes what a release writes;
- release.py: the queries of one release that fail against a schema;
- proof.py: the moments of a pending plan and the releases running at each;
- report.py: the proof as text, JSON and CI annotations;
- applied.py: the deployed migrations read from a file (verifystages --applied);
- authoring.py: the plan makemigrations is about to write, and its proof.
- exercise.py: the plan run on a scratch database, both releases' queries (--exercise).
"""
