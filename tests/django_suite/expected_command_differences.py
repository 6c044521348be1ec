"""Where Django's own command tests fail with this package's commands, and why.

Keys are test ids inside ``migrations.test_commands``; the format is the one
of expected_differences.py (``failure``: fragments that must appear, in this
order, in the failure's traceback text; ``versions``: the Django versions the
entry applies to). A test may fail differently on different Django versions,
so the listing is a sequence of (test id, Difference) pairs, at most one per
test and version.

EXPECTED_DIFFERENCES holds intended differences only: each is a change the
package phases or refuses on purpose. KNOWN_BUGS holds failures caused by bugs,
listed so the suite stays meaningful until they are fixed.
"""

from __future__ import annotations

from .expected_differences import Difference

MAKEMIGRATIONS = "MakeMigrationsTests."
COMMAND_ERROR = "django.core.management.base.CommandError: "
UPDATE_MIXES = (
    "--update cannot add these changes to migrations.{leaf}: it is {leaf_stage} and "
    "the changes need a {needed} step, and a migration never mixes stages."
)
# Django 6.0 made BigAutoField the default primary key; Django's fixture
# migrations of these tests create AutoField keys.
PK_RETYPE = (
    "Changing the type of migrations.{model}.id: AutoField -> BigAutoField rewrites the "
    "table, and it is the primary key, which other tables point at."
)
DJANGO_6 = ("6.0", "6.1")
# What Django's squashmigrations names the squash of migrations.test_migrations.
SQUASHED_SECOND = "0001_squashed_0002_second"


def update_mixes(leaf: str, leaf_stage: str, needed: str, reason: str) -> Difference:
    """Return the difference of an --update refused because it would mix stages."""
    message = UPDATE_MIXES.format(leaf=leaf, leaf_stage=leaf_stage, needed=needed)
    return Difference(reason, (COMMAND_ERROR + message,))


def pk_retype(model: str, test_intent: str) -> Difference:
    """Return the difference of a Django 6 test whose models retype a primary key."""
    return Difference(
        f"{test_intent}; but the test's models get Django 6's default BigAutoField "
        "primary key over the fixture's AutoField: retyping a primary key rewrites the "
        "table others point at, refused (Django writes an AlterField of id)",
        (COMMAND_ERROR + PK_RETYPE.format(model=model),),
        versions=DJANGO_6,
    )


EXPECTED_DIFFERENCES: tuple[tuple[str, Difference], ...] = (
    # -- a unique field never gets one value for every row ---------------------
    *(
        (
            MAKEMIGRATIONS + f"test_makemigrations_{mode}_unique_callable_default_addition",
            Difference(
                "a NOT NULL unique field added with timezone.now: the database default "
                "Now() gives every existing row (and a statement's rows) one value, so the "
                "pre-deploy step fails on two rows: refused, with the nullable/fill/NOT NULL "
                "recipe",
                (
                    COMMAND_ERROR + "Adding migrations.book.created: it is NOT NULL, it is "
                    "unique (unique=True)",
                    "Add it with null=True, fill unique values",
                ),
            ),
        )
        for mode in ("interactive", "non_interactive")
    ),
    # -- makemigrations reads what the default database has applied ------------
    (
        MAKEMIGRATIONS + "test_makemigrations_consistency_checks_respect_routers",
        Difference(
            "makemigrations also reads which migrations the default database has applied "
            "(a post-deploy leaf applied there is not pending), so MigrationRecorder."
            "has_table() is called more often than the test counts",
            ("AssertionError: 3 != 1",),
        ),
    ),
    # -- a change that is phased, so Django's description of it differs -----
    (
        MAKEMIGRATIONS + "test_makemigrations_field_rename_interactive",
        Difference(
            "a rename that changes the column is phased (new column kept in sync by "
            "triggers until post-deploy): no 'Rename field' operation",
            (
                "'Rename field silly_field on sillymodel to silly_rename' not found",
                "renames column silly_field to silly_rename: phased",
                "Add field silly_rename to sillymodel",
                "Stop syncing sillymodel.silly_field and silly_rename",
            ),
        ),
    ),
    (
        MAKEMIGRATIONS + "test_makemigrations_non_interactive_not_null_alteration",
        Difference(
            "making a field NOT NULL waits for post-deploy (the old release may still "
            "write NULL) as a SetNotNull that fills NULLs in batches: no 'Alter field'",
            (
                "'Alter field slug on author' not found",
                "given a default of NOT PROVIDED and must be corrected.",
                "Fill NULLs of author.slug in batches and make it NOT NULL",
            ),
            versions=("5.2",),
        ),
    ),
    (
        MAKEMIGRATIONS + "test_makemigrations_interactive_not_null_addition",
        Difference(
            "the test's model also drops NOT NULL fields without a default: the package "
            "first asks how to phase the removal of 'name' (nullable until the drop, or "
            "quit), and the scripted answer '2' quits there, before Django's question",
            (
                "It is impossible to add a non-nullable field 'silly_field' to author",
                "not found in",
                "Removing 'name' from migrations.author: the new release inserts rows without it",
                " 2) Quit and give the field a default the database can store",
            ),
        ),
    ),
    # -- --update into a last migration of the other stage: refused ----------
    (
        MAKEMIGRATIONS + "test_makemigrations_update",
        update_mixes(
            "0002_second",
            "post-deploy",
            "pre-deploy",
            "the last migration drops a model and a field (post-deploy); the new models "
            "must exist while the new release starts (pre-deploy): merged, they would wait "
            "for post-deploy",
        ),
    ),
    (
        MAKEMIGRATIONS + "test_makemigrations_update_custom_name",
        update_mixes(
            "0002_second",
            "post-deploy",
            "pre-deploy",
            "as test_makemigrations_update, with --name",
        ),
    ),
    (
        MAKEMIGRATIONS + "test_makemigrations_update_existing_name",
        update_mixes(
            "0001_initial",
            "pre-deploy",
            "post-deploy",
            "the last migration creates a model (pre-deploy) and the changes drop it "
            "(post-deploy): merged, the drop would run while the old release uses it",
        ),
    ),
    (
        MAKEMIGRATIONS + "test_makemigrations_update_manual_porting",
        update_mixes(
            "0005_fifth",
            "pre-deploy",
            "post-deploy",
            "the last migration (RunPython, pre-deploy) would take the changes' drops, "
            "which must wait for post-deploy",
        ),
    ),
    # -- MariaDB/MySQL: a migration re-run finishes what it finds done -------
    (
        "MigrateTests.test_migrate_fake_initial",
        Difference(
            "MariaDB cannot roll DDL back, so a re-run of a migration skips creating "
            "tables that already exist (resumable.py) and finishes it: migrating the "
            "faked-back initial migration over its existing tables succeeds instead of "
            "raising DatabaseError",
            ("DatabaseError not raised",),
            vendors=("mysql",),
        ),
    ),
    # -- squashmigrations: a range that mixes stages, one squash per stage --
    *(
        (
            "SquashMigrationsTests." + test,
            Difference(
                "the fixture's 0002_second drops a model and a field (post-deploy) after "
                "0001_initial (pre-deploy): squashed into 0001_squashed_0001_pre_deploy and "
                f"0002_squashed_0002_post_deploy, not {SQUASHED_SECOND}; {why}",
                failure,
            ),
        )
        for test, why, failure in (
            (
                "test_squashmigrations_squashes",
                "the test looks for that file",
                ("test_squashmigrations_squashes", "AssertionError: False is not true"),
            ),
            (
                "test_squashmigrations_initial_attribute",
                "the test opens that file",
                ("No such file or directory", f"{SQUASHED_SECOND}.py"),
            ),
            (
                "test_squashmigrations_optimizes",
                "each is optimized on its own (Django's 8 operations to 2 merge across the stages)",
                (
                    "'Optimized from 8 operations to 2 operations.' not found",
                    "0001_squashed_0001_pre_deploy (pre-deploy)",
                    "Optimized from 4 operations to 2 operations.",
                ),
            ),
            (
                "test_squashed_name_with_start_migration_name",
                "with --squashed-name each is named after it with its stage",
                ("test_squashed_name_with_start_migration_name", "False is not true"),
            ),
            (
                "test_squashed_name_exists",
                "--squashed-name initial names them 0001_initial_pre_deploy and "
                "0002_initial_post_deploy, which do not exist",
                ("AssertionError: CommandError not raised",),
            ),
        )
    ),
    (
        "MigrateTests.test_migrate_partially_applied_squashed_migration",
        Difference(
            "squashmigrations splits the fixture's range by stage (see "
            f"SquashMigrationsTests): migrate finds no {SQUASHED_SECOND} to migrate to",
            (f"Cannot find a migration matching '{SQUASHED_SECOND}'",),
        ),
    ),
    (
        "SquashMigrationsTests.test_squash_partially_applied",
        Difference(
            "its second squash adds 0004, which removes fields (post-deploy), to the "
            "pre-deploy squash of 0001-0003: one squash per stage, so no "
            "0001_squashed_0001_0004 for the test to read",
            ("KeyError: ('migrations', '0001_squashed_0001_0004')",),
            versions=DJANGO_6,
        ),
    ),
    # -- Django 6: the fixtures' AutoField keys become BigAutoField ---------
    (
        MAKEMIGRATIONS + "test_makemigrations_non_interactive_not_null_alteration",
        pk_retype("author", "a field made NOT NULL without a default, non-interactive"),
    ),
    (
        MAKEMIGRATIONS + "test_makemigrations_interactive_not_null_alteration",
        pk_retype("author", "the one-off default question of a field made NOT NULL"),
    ),
    (
        MAKEMIGRATIONS + "test_makemigrations_auto_now_add_interactive",
        pk_retype("entry", "the one-off default question of an added auto_now_add field"),
    ),
)

KNOWN_BUGS: tuple[tuple[str, Difference], ...] = ()


def listed_failures(django_version: str, vendor: str) -> dict[str, Difference]:
    """Return every listed failure (intended or bug) for a Django version and a backend."""
    listed: dict[str, Difference] = {}
    for test_id, difference in (*EXPECTED_DIFFERENCES, *KNOWN_BUGS):
        if django_version not in difference.versions or vendor not in difference.vendors:
            continue
        if test_id in listed:
            raise ValueError(f"{test_id} is listed twice for Django {django_version}")
        listed[test_id] = difference
    return listed
