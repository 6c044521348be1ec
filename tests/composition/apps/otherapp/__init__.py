"""A third-party app that overrides makemigrations and migrate, as real ones do.

Its makemigrations is shaped like django-migration-linter's (an option, then
a look at each migration after Django wrote it), its migrate like one that
installs database objects once the migrations ran (django-pgtrigger installs
its triggers then), and both commands carry an autodetector of its own, a
mixin on Django's as django-pgtrigger builds it. What each does is recorded
in RECORD, for the tests to read.
"""

RECORD: list[str] = []
