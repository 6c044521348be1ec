"""Where Django's own autodetector tests fail with GreenMigrationAutodetector, and why.

Keys are test ids inside ``migrations.test_autodetector``. Each entry says why
our autodetector differs and how the test must fail: ``failure`` lists
fragments that must appear, in this order, in the failure's traceback text,
so a listed test that starts failing for another reason is reported too.
``versions`` limits an entry to the Django versions (major.minor) that have
the test (and ``vendors``, in the command suite, to database backends).

EXPECTED_DIFFERENCES holds intended differences only. KNOWN_BUGS holds
failures caused by bugs in our autodetector: they are listed so the suite
stays meaningful (any other failure still fails it) until the bug is fixed;
fixing one makes its entry stale, and the wrapper test says so.
"""

from __future__ import annotations

from dataclasses import dataclass

ALL_VERSIONS = ("5.2", "6.0", "6.1")
# Database vendors (django.db.connection.vendor) the suites may run on.
ALL_VENDORS = ("sqlite", "postgresql", "mysql")

SPLIT = "Incorrect number of migrations (2) for {app} (expected 1)"
# Operations that run outside a transaction (CONCURRENTLY, NOT VALID then
# VALIDATE, batched copies) are in non-atomic migrations of their own.
SPLIT_INTO = "Incorrect number of migrations ({count}) for {app} (expected 1)"
PHASING = "green_makemigrations.exceptions.PhasingError"
# Django's assertOperationTypes, when an operation is ours instead of Django's.
ORDER_WRT_REFUSED = (
    "PhasingError: Setting order_with_respect_to='book' on testapp.Author adds a NOT NULL "
    "_order column without a database default"
)
MISMATCH = "Operation type mismatch for {app}.auto_1 (expected {expected})"
# An added NOT NULL field the database cannot fill for the old release's inserts.
NO_DEFAULT = "Adding {field}: it is NOT NULL and it has no default"
UNCOMPUTABLE = "Adding {field}: it is NOT NULL and its default {default}"
DATE_AUTO_NOW = "Adding {field}: it is NOT NULL and auto_now/auto_now_add on a DateField"
# Field classes as Django's assertion messages print them.
INT = "django.db.models.fields.IntegerField"
CHAR = "django.db.models.fields.CharField"


@dataclass(frozen=True)
class Difference:
    """Why a Django test fails with our autodetector, and how it fails."""

    reason: str
    failure: tuple[str, ...]
    versions: tuple[str, ...] = ALL_VERSIONS
    # The autodetector suite needs no database: only the command suite reads this.
    vendors: tuple[str, ...] = ALL_VENDORS


def no_default(field: str, reason: str) -> Difference:
    """Return the PhasingError difference of a NOT NULL field added without a default."""
    return Difference(
        reason, (PHASING, NO_DEFAULT.format(field=field), "add it with null=True first")
    )


# The phased rename of a field whose column changes, as Django's assertion
# failures print it: pre-deploy [AlterField(old, null=True) when old is NOT
# NULL, AddField(new, nullable), ..., SyncRenamedColumns], post-deploy
# [StopSyncRenamedColumns, RemoveField(old), SetNotNull(new)].
def renamed_column(app: str, model: str, old: str, new: str, field_class: str) -> tuple[str, ...]:
    """Return the failure fragments of one phased NOT NULL field rename, in Django's order."""
    return (
        SPLIT_INTO.format(count=5, app=app),
        "auto_1",
        f"<AlterField  model_name='{model}', name='{old}', field=<{field_class}>>",
        f"<AddField  model_name='{model}', name='{new}', field=<{field_class}>>",
        "auto_2",
        f"<SyncRenamedColumns '{model}', '{old}', '{new}'>",
        "auto_3",
        f"<StopSyncRenamedColumns '{model}', '{old}', '{new}'>",
        "auto_4",
        f"<RemoveField  model_name='{model}', name='{old}'>",
        "auto_5",
        f"<SetNotNull '{model}', '{new}', <{field_class}>>",
    )


def renamed_table(app: str, old: str, new: str, table: str) -> tuple[str, ...]:
    """Return the failure fragments of one phased model rename (a view under the old name)."""
    return (
        SPLIT.format(app=app),
        "auto_1",
        f"<RenameModelWithViews '{old}', '{new}', [('{table}', None, {{}})]>",
        "auto_2",
        f"<DropView '{table}', '{new}', None, {{}} columns=",
    )


EXPECTED_DIFFERENCES: dict[str, Difference] = {
    # -- a removal becomes a pre-deploy prep step and a post-deploy drop ------
    "AutodetectorTests.test_remove_field": Difference(
        "field removal now produces a pre-deploy AlterField prep (nullable: no default) "
        "+ post-deploy RemoveField in two migrations",
        (
            SPLIT.format(app="testapp"),
            "auto_1",
            "<AlterField  model_name='author', name='name'",
            "auto_2",
            "<RemoveField  model_name='author', name='name'>",
        ),
    ),
    "AutodetectorTests.test_remove_field_and_unique_together": Difference(
        "unique_together change (its new index built CONCURRENTLY on PostgreSQL: "
        "AlterUniqueTogetherConcurrently) and the field's prep are pre-deploy; the "
        "RemoveField waits in a post-deploy migration",
        (
            SPLIT_INTO.format(count=3, app="otherapp"),
            "auto_1",
            "<AlterUniqueTogether  name='book', unique_together=set()>",
            "<AlterField  model_name='book', name='newfield'",
            "auto_2",
            "<AlterUniqueTogetherConcurrently 'book', {('author', 'title')}>",
            "auto_3",
            "<RemoveField  model_name='book', name='newfield'>",
        ),
    ),
    "AutodetectorTests.test_unique_together_remove_fk": Difference(
        "unique_together removal and the FK's prep (nullable) are pre-deploy; the "
        "RemoveField waits in a post-deploy migration",
        (
            SPLIT.format(app="otherapp"),
            "auto_1",
            "<AlterUniqueTogether  name='book', unique_together=set()>",
            "<AlterField  model_name='book', name='author'",
            "auto_2",
            "<RemoveField  model_name='book', name='author'>",
        ),
    ),
    "AutodetectorTests.test_alter_fk_before_model_deletion": Difference(
        "a declined rename (Author deleted, Aardvark created) that re-points a kept foreign "
        "key at the new, empty table is refused: the existing rows would point at rows it "
        "does not have, and the running release still uses the old table",
        (
            "PhasingError: testapp.publisher.author would point at testapp.aardvark, a new "
            "model, instead of testapp.author, which is deleted",
            "answer yes when it asks whether testapp.author was renamed",
        ),
    ),
    "AutodetectorTests.test_foreign_key_removed_before_target_model": Difference(
        "the FK's prep (nullable) is pre-deploy; removing the FK and deleting its target "
        "model are post-deploy, FK first",
        (
            SPLIT.format(app="testapp"),
            "auto_1",
            "<AlterField  model_name='author', name='publisher'",
            "auto_2",
            "<RemoveField  model_name='author', name='publisher'>",
            "<DeleteModel  name='Publisher'>",
        ),
    ),
    "AutodetectorTests.test_remove_field_with_remove_index_or_constraint_dependency": (
        Difference(
            "dropping the constraint is pre-deploy; removing the (nullable) FK and "
            "deleting its target model are post-deploy",
            (
                SPLIT.format(app="testapp"),
                "auto_1",
                "<RemoveConstraint  model_name='model', name='unique_category_for_date'>",
                "auto_2",
                "<RemoveField  model_name='model', name='category'>",
                "<DeleteModel  name='Category'>",
            ),
            versions=("6.0", "6.1"),
        )
    ),
    "AutodetectorTests.test_remove_generated_field_before_its_base_field": Difference(
        "the base field's prep is pre-deploy; the generated field and then its base "
        "field are dropped post-deploy, in Django's order",
        (
            SPLIT.format(app="testapp"),
            "auto_1",
            "<AlterField  model_name='author', name='name'",
            "auto_2",
            "<RemoveField  model_name='author', name='upper_name'>",
            "<RemoveField  model_name='author', name='name'>",
        ),
        versions=("6.0", "6.1"),
    ),
    "AutodetectorTests.test_remove_generated_field_before_multiple_base_fields": Difference(
        "both base fields get a pre-deploy prep; the generated field and its base fields "
        "are dropped post-deploy, in Django's order",
        (
            SPLIT.format(app="testapp"),
            "auto_1",
            "<AlterField  model_name='author', name='first_name'",
            "<AlterField  model_name='author', name='last_name'",
            "auto_2",
            "<RemoveField  model_name='author', name='full_name'>",
            "<RemoveField  model_name='author', name='first_name'>",
            "<RemoveField  model_name='author', name='last_name'>",
        ),
        versions=("6.0", "6.1"),
    ),
    "AutodetectorTests.test_remove_generated_field_and_one_of_multiple_base_fields": (
        Difference(
            "the removed base field gets a pre-deploy prep; the generated field and that "
            "base field are dropped post-deploy (the generated column first)",
            (
                SPLIT.format(app="testapp"),
                "auto_1",
                "<AlterField  model_name='author', name='first_name'",
                "auto_2",
                "<RemoveField  model_name='author', name='full_name'>",
                "<RemoveField  model_name='author', name='first_name'>",
            ),
            versions=("6.0", "6.1"),
        )
    ),
    # -- changes that need the drop first: refused with PhasingError ---------
    "AutodetectorTests.test_add_model_with_field_removed_from_base_model": Difference(
        "a new child model redeclaring the parent's removed field needs the drop first: "
        "two releases, PhasingError says so",
        (PHASING, "Create model book needs app.readable: Remove field title from readable first."),
    ),
    "AutodetectorTests.test_concrete_field_changed_to_many_to_many": Difference(
        "a concrete field turned M2M under the same name needs the column dropped first: "
        "PhasingError",
        (PHASING, "Add field publishers to author needs testapp.author: Remove field publishers"),
    ),
    "AutodetectorTests.test_alter_unique_together_fk_to_m2m": Difference(
        "an FK turned M2M under the same name needs the column dropped first: PhasingError",
        (PHASING, "Add field author to book needs otherapp.book: Remove field author from book"),
    ),
    "AutodetectorTests.test_m2m_target_change_generates_remove_and_add": Difference(
        "a repointed M2M is a RemoveField + AddField of the same through table name: "
        "the drop must come first, PhasingError",
        (PHASING, "Add field publishers to author needs testapp.author: Remove field publishers"),
        versions=("6.1",),
    ),
    # -- an added NOT NULL field gets a database default until post-deploy -----
    "AutodetectorTests.test_add_field_with_default": Difference(
        "the field is added with db_default='Ada Lovelace' (pre-deploy) so the old "
        "release's inserts work; a post-deploy AlterField drops that default",
        (
            SPLIT.format(app="testapp"),
            "auto_1",
            "<AddField  model_name='author', name='name'",
            "auto_2",
            "<AlterField  model_name='author', name='name'",
        ),
    ),
    "AutodetectorTests.test_add_blank_textfield_and_charfield": Difference(
        "blank string fields without a default are added with db_default='' (what Django "
        "fills existing rows with); post-deploy AlterFields drop it",
        (
            SPLIT.format(app="testapp"),
            "auto_1",
            "<AddField  model_name='author', name='biography'",
            "<AddField  model_name='author', name='name'",
            "auto_2",
            "<AlterField  model_name='author', name='biography'",
            "<AlterField  model_name='author', name='name'",
        ),
    ),
    # -- an added NOT NULL field the database cannot fill: PhasingError ------
    # Django's test questioner answers the one-off default question with None
    # (or a MagicMock): no default the database can compute for the old
    # release's inserts, so these refuse with what to do.
    "AutodetectorTests.test_add_field": no_default(
        "testapp.author.name", "NOT NULL CharField added, no one-off default: PhasingError"
    ),
    "AutodetectorTests.test_add_field_before_generated_field": no_default(
        "testapp.author.surname", "NOT NULL CharField added, no one-off default: PhasingError"
    ),
    "AutodetectorTests.test_add_field_and_unique_together": no_default(
        "otherapp.book.newfield", "NOT NULL field added, no one-off default: PhasingError"
    ),
    "AutodetectorTests.test_add_alter_order_with_respect_to": no_default(
        "testapp.author.book", "NOT NULL FK added, no one-off default: PhasingError"
    ),
    "AutodetectorTests.test_add_constraints_with_new_model": no_default(
        "otherapp.book.pony",
        "NOT NULL FK (to a new model) added to an existing model, no one-off default: PhasingError",
    ),
    "AutodetectorTests.test_add_index_with_new_model": no_default(
        "otherapp.book.pony",
        "NOT NULL FK (to a new model) added to an existing model, no one-off default: PhasingError",
    ),
    "AutodetectorTests.test_add_fk_before_generated_field": no_default(
        "testapp.author.publisher",
        "NOT NULL FK (to a new model) added, no one-off default: PhasingError",
    ),
    "AutodetectorTests.test_create_model_and_unique_together": no_default(
        "otherapp.book.author",
        "NOT NULL FK (to a new model) added to an existing model, no one-off default: PhasingError",
    ),
    "AutodetectorTests.test_fk_dependency_other_app": no_default(
        "testapp.author.book", "NOT NULL FK to another app added, no one-off default: PhasingError"
    ),
    "AutodetectorTests.test_replace_string_with_foreignkey": no_default(
        "testapp.author.publisher",
        "CharField replaced by a NOT NULL FK without a one-off default: PhasingError "
        "(before the removal's ordering is even considered)",
    ),
    "AutodetectorTests.test_many_to_many_changed_to_concrete_field": no_default(
        "testapp.author.publishers",
        "an M2M turned into a NOT NULL CharField without a default: PhasingError (it would "
        "also need the through table dropped first)",
    ),
    "AutodetectorTests.test_add_date_fields_with_auto_now_not_asking_for_default": Difference(
        "DateField(auto_now=True) added: only DateTimeField gets db_default=Now(), a date "
        "column has no portable database default: PhasingError",
        (PHASING, DATE_AUTO_NOW.format(field="testapp.author.date_of_birth")),
    ),
    "AutodetectorTests.test_add_date_fields_with_auto_now_add_not_asking_for_null_addition": (
        Difference(
            "DateField(auto_now_add=True) added, Django's questioner gives no one-off "
            "default and a date column has no portable database default: PhasingError",
            (PHASING, DATE_AUTO_NOW.format(field="testapp.author.date_of_birth")),
        )
    ),
    "AutodetectorTests.test_add_date_fields_with_auto_now_add_asking_for_default": Difference(
        "DateField(auto_now_add=True) added with a MagicMock one-off default the database "
        "cannot compute: PhasingError",
        (
            PHASING,
            UNCOMPUTABLE.format(
                field="testapp.author.date_of_birth",
                default="<MagicMock name='ask_auto_now_add_addition()'",
            ),
            "cannot be computed by the database",
        ),
    ),
    "AutodetectorTests.test_add_non_blank_textfield_and_charfield": Difference(
        "non-blank TextField added with a MagicMock one-off default the database cannot "
        "compute: PhasingError",
        (
            PHASING,
            UNCOMPUTABLE.format(
                field="testapp.author.biography",
                default="<MagicMock name='ask_not_null_addition()'",
            ),
            "cannot be computed by the database",
        ),
    ),
    # -- indexes and check constraints of existing tables, built online -------
    # Django's tests assert AddIndex / RemoveIndex / AddConstraint; for tables
    # that already exist ours are their subclasses that do not block writes.
    "AutodetectorTests.test_add_indexes": Difference(
        "index added to an existing table is built CONCURRENTLY on PostgreSQL: "
        "AddIndexConcurrently",
        (
            MISMATCH.format(app="otherapp", expected="['AddIndex']"),
            "<AddIndexConcurrently 'book', <Index: fields=['author', 'title'] "
            "name='book_title_author_idx'>>",
        ),
    ),
    "AutodetectorTests.test_alter_field_to_fk_dependency_other_app": Difference(
        "IntegerField author -> ForeignKey author renames its column (author -> "
        "author_id), which the running release uses: refused, keep db_column='author'",
        (
            PHASING,
            "Changing the column of otherapp.book.author: its column changes (author -> "
            "author_id), and it is a relation. Keep its column (db_column='author'",
        ),
    ),
    "AutodetectorTests.test_remove_indexes": Difference(
        "index removed from a kept table is dropped CONCURRENTLY on PostgreSQL: "
        "RemoveIndexConcurrently",
        (
            MISMATCH.format(app="otherapp", expected="['RemoveIndex']"),
            "<RemoveIndexConcurrently 'book', 'book_title_author_idx'>",
        ),
    ),
    "AutodetectorTests.test_order_fields_indexes": Difference(
        "an index whose fields are reordered is dropped and built again CONCURRENTLY on "
        "PostgreSQL: RemoveIndexConcurrently, AddIndexConcurrently",
        (
            MISMATCH.format(app="otherapp", expected="['RemoveIndex', 'AddIndex']"),
            "<RemoveIndexConcurrently 'book', 'book_title_author_idx'>",
            "<AddIndexConcurrently 'book', <Index: fields=['title', 'author'] "
            "name='book_author_title_idx'>>",
        ),
    ),
    "AutodetectorTests.test_add_constraints": Difference(
        "check constraint added to an existing table is added NOT VALID, then validated "
        "on PostgreSQL: AddCheckConstraintNotValid",
        (
            MISMATCH.format(app="testapp", expected="['AddConstraint']"),
            "<AddCheckConstraintNotValid 'author', <CheckConstraint: "
            "condition=(AND: ('name__contains', 'Bob')) name='name_contains_bob'>>",
        ),
    ),
    "AutodetectorTests.test_constraint_dropped_and_recreated": Difference(
        "a changed check constraint is dropped (Django's RemoveConstraint) and added "
        "again NOT VALID, then validated on PostgreSQL: AddCheckConstraintNotValid",
        (
            SPLIT_INTO.format(count=2, app="testapp"),
            "auto_1",
            "<RemoveConstraint  model_name='author', name='name_contains_bob'>",
            "auto_2",
            "<AddCheckConstraintNotValid 'author', <CheckConstraint: "
            "condition=(AND: ('name__contains', 'bob')) name='name_contains_bob'>>",
        ),
    ),
    "AutodetectorTests.test_rename_field_preserve_db_column_recreate_constraint": Difference(
        "a unique constraint on plain fields added to an existing table gets its index "
        "built CONCURRENTLY, then attached, on PostgreSQL: AddUniqueConstraintConcurrently",
        (
            SPLIT_INTO.format(count=2, app="app"),
            "<RemoveConstraint  model_name='foo', name='unique_fields'>",
            "auto_2",
            "<AddUniqueConstraintConcurrently 'foo', <UniqueConstraint: "
            "fields=('renamed_field1',) name='unique_fields'>>",
        ),
        versions=("6.0", "6.1"),
    ),
    # -- order_with_respect_to set on an existing table: refused -----------------
    # _order is added NOT NULL and its default dropped at once: the running
    # release's inserts would fail. No Django operation keeps a default on it.
    "AutodetectorTests.test_set_alter_order_with_respect_to": Difference(
        "order_with_respect_to set on an existing table adds a NOT NULL _order column "
        "without a database default: refused, with the ways to make it instead",
        (ORDER_WRT_REFUSED,),
    ),
    "AutodetectorTests.test_set_alter_order_with_respect_to_index_constraint_unique_together": (
        Difference(
            "order_with_respect_to set on an existing table, with an index, a check or a "
            "unique_together on _order: refused (three subtests)",
            (ORDER_WRT_REFUSED,) * 3,
        )
    ),
    # -- unique constraints and unique_together of existing tables, built online --
    # The unique index is built CONCURRENTLY on PostgreSQL, then attached, in a
    # non-atomic migration: subclasses of AlterUniqueTogether / AlterField.
    "AutodetectorTests.test_add_unique_together": Difference(
        "unique_together added to an existing table: its index is built CONCURRENTLY, "
        "then attached, on PostgreSQL: AlterUniqueTogetherConcurrently",
        (
            MISMATCH.format(app="otherapp", expected="['AlterUniqueTogether']"),
            "<AlterUniqueTogetherConcurrently 'book', {('author', 'title')}>",
        ),
    ),
    "AutodetectorTests.test_unique_together_ordering": Difference(
        "unique_together reordered on an existing table: the new index is built "
        "CONCURRENTLY on PostgreSQL (AlterUniqueTogetherConcurrently), field order kept",
        (
            SPLIT_INTO.format(count=2, app="otherapp"),
            "<AlterUniqueTogether  name='book', unique_together=set()>",
            "auto_2",
            "<AlterUniqueTogetherConcurrently 'book', {('title', 'author')}>",
        ),
    ),
    "AutodetectorTests.test_partly_alter_unique_together_increase": Difference(
        "a unique_together entry added on an existing table: its index is built "
        "CONCURRENTLY on PostgreSQL: AlterUniqueTogetherConcurrently",
        (
            SPLIT_INTO.format(count=2, app="testapp"),
            "<AlterUniqueTogether  name='author', unique_together={('name',)}>",
            "auto_2",
            "<AlterUniqueTogetherConcurrently 'author', {('name',), ('age',)}>",
        ),
    ),
    "AutodetectorTests.test_alter_field_and_unique_together": Difference(
        "Django's order kept; the field made unique (AlterFieldUniqueConcurrently) and the "
        "new unique_together (AlterUniqueTogetherConcurrently) get their indexes built, "
        "and the dropped db_index is dropped (AlterFieldIndexConcurrently), CONCURRENTLY "
        "on PostgreSQL; the removal stays Django's",
        (
            SPLIT_INTO.format(count=2, app="testapp"),
            "auto_1",
            "<AlterUniqueTogether  name='author', unique_together=set()>",
            "auto_2",
            f"<AlterFieldIndexConcurrently 'author', 'age', <{INT}: age>, True>",
            f"<AlterFieldUniqueConcurrently 'author', 'name', <{CHAR}: name>, True>",
            "<AlterUniqueTogetherConcurrently 'author', {('age',)}>",
        ),
    ),
    # -- making a field NOT NULL is post-deploy, as SetNotNull --------------------
    **{
        f"AutodetectorTests.test_alter_field_to_not_null_{case}": Difference(
            "nullable -> NOT NULL is post-deploy, as SetNotNull (an AlterField that "
            "backfills in batches and, on PostgreSQL, validates before SET NOT NULL)",
            (
                "Operation type mismatch for testapp.auto_1 (expected ['AlterField'])",
                "<SetNotNull 'author', 'name'",
            ),
        )
        for case in ("oneoff_default", "with_db_default", "with_default", "without_default")
    },
    # -- renames that change a column or a table are phased ----------------------
    # A rename that changes the column: the new column is added in pre-deploy and
    # kept equal to the old one by triggers (SyncRenamedColumns); post-deploy stops
    # the sync, drops the old column and sets NOT NULL. Sync ops come last in
    # pre-deploy and StopSync first in post-deploy (SQLite rebuilds drop triggers).
    "AutodetectorTests.test_rename_field": Difference(
        "NOT NULL field renamed without db_column: old column made nullable, new column "
        "added and synced in pre-deploy; old column dropped, NOT NULL set in post-deploy",
        renamed_column("testapp", "author", "name", "names", CHAR),
    ),
    "AutodetectorTests.test_rename_field_and_unique_together": Difference(
        "phased rename; unique_together moves to the new column in pre-deploy, its index "
        "built CONCURRENTLY on PostgreSQL (AlterUniqueTogetherConcurrently), before the "
        "sync starts (the sync ops come last in the stage)",
        (
            SPLIT_INTO.format(count=5, app="otherapp"),
            "auto_1",
            f"<AlterField  model_name='book', name='newfield', field=<{INT}>>",
            f"<AddField  model_name='book', name='newfield2', field=<{INT}>>",
            "auto_2",
            "<AlterUniqueTogetherConcurrently 'book', {('title', 'newfield2')}>",
            "<SyncRenamedColumns 'book', 'newfield', 'newfield2'>",
            "auto_3",
            "<StopSyncRenamedColumns 'book', 'newfield', 'newfield2'>",
            "auto_4",
            "<RemoveField  model_name='book', name='newfield'>",
            "auto_5",
            f"<SetNotNull 'book', 'newfield2', <{INT}>>",
        ),
    ),
    "AutodetectorTests.test_does_not_crash_after_rename_on_unique_together": Difference(
        "phased rename; unique_together moves to the new column in pre-deploy, its index "
        "built CONCURRENTLY on PostgreSQL (AlterUniqueTogetherConcurrently), before the "
        "sync starts",
        (
            SPLIT_INTO.format(count=5, app="app"),
            "auto_1",
            f"<AlterField  model_name='foo', name='first', field=<{INT}>>",
            f"<AddField  model_name='foo', name='first_renamed', field=<{INT}>>",
            "auto_2",
            "<AlterUniqueTogetherConcurrently 'foo', {('first_renamed', 'second')}>",
            "<SyncRenamedColumns 'foo', 'first', 'first_renamed'>",
            "auto_3",
            "<StopSyncRenamedColumns 'foo', 'first', 'first_renamed'>",
            "auto_4",
            "<RemoveField  model_name='foo', name='first'>",
            "auto_5",
            f"<SetNotNull 'foo', 'first_renamed', <{INT}>>",
        ),
        versions=("6.1",),
    ),
    "AutodetectorTests.test_rename_field_without_db_column_recreate_constraint": Difference(
        "phased rename; the unique constraint is dropped and added again on the new column "
        "in pre-deploy, its index built CONCURRENTLY on PostgreSQL "
        "(AddUniqueConstraintConcurrently), before the sync starts",
        (
            SPLIT_INTO.format(count=5, app="app"),
            "auto_1",
            "<RemoveConstraint  model_name='foo', name='unique_field'>",
            f"<AlterField  model_name='foo', name='field', field=<{INT}>>",
            f"<AddField  model_name='foo', name='full_field1_name', field=<{INT}>>",
            "auto_2",
            "<AddUniqueConstraintConcurrently 'foo', <UniqueConstraint: "
            "fields=('full_field1_name',) name='unique_field'>>",
            "<SyncRenamedColumns 'foo', 'field', 'full_field1_name'>",
            "auto_3",
            "<StopSyncRenamedColumns 'foo', 'field', 'full_field1_name'>",
            "auto_4",
            "<RemoveField  model_name='foo', name='field'>",
            "auto_5",
            f"<SetNotNull 'foo', 'full_field1_name', <{INT}>>",
        ),
        versions=("6.0", "6.1"),
    ),
    "AutodetectorTests.test_rename_field_with_renamed_model": Difference(
        "model and field renamed: RenameModel and the phased field rename in pre-deploy, a "
        "view under the old table name; post-deploy drops the view first, then stops the "
        "sync and drops the old column",
        (
            SPLIT_INTO.format(count=7, app="testapp"),
            "auto_1",
            "<RenameModelWithViews 'Author', 'RenamedAuthor', [('testapp_author', None, {})]>",
            "auto_2",
            f"<AlterField  model_name='renamedauthor', name='name', field=<{CHAR}>>",
            f"<AddField  model_name='renamedauthor', name='renamed_name', field=<{CHAR}>>",
            "auto_3",
            "<SyncRenamedColumns 'renamedauthor', 'name', 'renamed_name'>",
            "auto_4",
            "<DropView 'testapp_author', 'RenamedAuthor', None, {} columns=",
            "auto_5",
            "<StopSyncRenamedColumns 'renamedauthor', 'name', 'renamed_name'>",
            "auto_6",
            "<RemoveField  model_name='renamedauthor', name='name'>",
            "auto_7",
            f"<SetNotNull 'renamedauthor', 'renamed_name', <{CHAR}>>",
        ),
    ),
    # A model rename that changes the table: RenameModel and a view under the old
    # table name in pre-deploy, the view dropped in post-deploy.
    "AutodetectorTests.test_rename_model": Difference(
        "model renamed without db_table: a view testapp_author serves the old release "
        "until post-deploy",
        renamed_table("testapp", "Author", "Writer", "testapp_author"),
    ),
    "AutodetectorTests.test_alter_db_table_with_model_change": Difference(
        "model renamed with a new db_table: the RenameModel keeps the explicit table, the "
        "AlterModelTable renames it and leaves a view author_one (the old table) for the "
        "old release until post-deploy",
        (
            SPLIT_INTO.format(count=3, app="testapp"),
            "<RenameModel  old_name='Author', new_name='NewAuthor'>",
            "auto_2",
            "<AlterModelTableWithViews 'newauthor', 'author_three', [('author_one', None, {})]>",
            "auto_3",
            "<DropView 'author_one', 'NewAuthor', None, {} columns=",
        ),
    ),
    "AutodetectorTests.test_alter_db_table_add": Difference(
        "db_table set: the table is renamed with a view under the old name until post-deploy",
        (
            SPLIT.format(app="testapp"),
            "<AlterModelTableWithViews 'author', 'author_one', [('testapp_author', None, {})]>",
            "auto_2",
            "<DropView 'testapp_author', 'Author', None, {} columns=",
        ),
    ),
    "AutodetectorTests.test_alter_db_table_change": Difference(
        "db_table changed: the table is renamed with a view under the old name until post-deploy",
        (
            SPLIT.format(app="testapp"),
            "<AlterModelTableWithViews 'author', 'author_two', [('author_one', None, {})]>",
            "auto_2",
            "<DropView 'author_one', 'Author', None, {} columns=",
        ),
    ),
    "AutodetectorTests.test_alter_db_table_remove": Difference(
        "db_table removed: the table is renamed with a view under the old name until post-deploy",
        (
            SPLIT.format(app="testapp"),
            "<AlterModelTableWithViews 'author', None, [('author_one', None, {})]>",
            "auto_2",
            "<DropView 'author_one', 'Author', None, {} columns=",
        ),
    ),
    "AutodetectorTests.test_rename_field_foreign_key_to_field": Difference(
        "renaming a field another model's ForeignKey(to_field=...) points at is refused "
        "(its foreign key would keep the old column): keep db_column",
        (
            PHASING,
            "Renaming app.foo.field to renamed_field changes its database name, and this "
            "rename cannot be phased: app.bar.foo points at it. Keep the database name "
            "(db_column='field')",
        ),
    ),
    "AutodetectorTests.test_rename_foreign_object_fields": Difference(
        "renaming fields a ForeignObject's to_fields name is refused: keep db_column",
        (
            PHASING,
            "Renaming app.foo.first to first_renamed changes its database name, and this "
            "rename cannot be phased: app.bar.foo points at it.",
        ),
    ),
    "AutodetectorTests.test_rename_model_with_renamed_rel_field": Difference(
        "a model renamed in one app and the FK to it renamed in another in the same run "
        "is refused: the new FK column needs the renamed table, whose migration Django "
        "makes depend on the other app",
        (
            PHASING,
            "Renaming otherapp.book.author to writer changes its database name, and this "
            "rename cannot be phased: it points at testapp.Writer, renamed in the same run "
            "in another app",
        ),
    ),
    "AutodetectorTests.test_rename_m2m_through_model": Difference(
        "M2M through model renamed: a view testapp_contract until post-deploy",
        renamed_table("testapp", "Contract", "Deal", "testapp_contract"),
    ),
    "AutodetectorTests.test_rename_model_reverse_relation_dependencies": Difference(
        "model pointed at by another app's FK renamed: a view testapp_entitya until post-deploy",
        renamed_table("testapp", "EntityA", "RenamedEntityA", "testapp_entitya"),
    ),
    "AutodetectorTests.test_rename_model_with_fks_in_different_position": Difference(
        "model renamed: a view testapp_entityb until post-deploy",
        renamed_table("testapp", "EntityB", "RenamedEntityB", "testapp_entityb"),
    ),
    # A rename of the primary key's column: other tables point at it, refused.
    "AutodetectorTests.test_rename_referenced_primary_key": Difference(
        "renaming the primary key's column cannot be phased (other tables point at it): "
        "PhasingError naming the db_column fix",
        (
            PHASING,
            "Renaming app.foo.id to renamed_id changes its database name, and this rename "
            "cannot be phased: it is the primary key",
            "Keep the database name (db_column='id')",
        ),
    ),
    # -- primary key and _order changes ----------------------------------------
    "AutodetectorTests.test_remove_composite_pk": Difference(
        "the new primary key (AlterField id) is pre-deploy; removing the "
        "CompositePrimaryKey, which has no column and needs no prep, waits in post-deploy",
        (
            SPLIT.format(app="app"),
            "auto_1",
            "<AlterField  model_name='foo', name='id'",
            "auto_2",
            "<RemoveField  model_name='foo', name='pk'>",
        ),
    ),
    "AutodetectorTests.test_remove_alter_order_with_respect_to": Difference(
        "dropping order_with_respect_to leaves the NOT NULL _order column, which has no "
        "database default, until post-deploy: the new release's inserts would fail; refused",
        (
            "PhasingError: Removing order_with_respect_to from testapp.Author drops its "
            "NOT NULL _order column in post-deploy",
        ),
    ),
}


KNOWN_BUGS: dict[str, Difference] = {}


def listed_failures(django_version: str) -> dict[str, Difference]:
    """Return every listed failure (intended or bug) that applies to a Django version."""
    return {
        test_id: difference
        for listing in (EXPECTED_DIFFERENCES, KNOWN_BUGS)
        for test_id, difference in listing.items()
        if django_version in difference.versions
    }


def matches(difference: Difference, text: str) -> bool:
    """Return whether a failure's traceback text shows the listed fragments in order."""
    position = 0
    for fragment in difference.failure:
        position = text.find(fragment, position)
        if position < 0:
            return False
        position += len(fragment)
    return True
