import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor


# Transactional, as the deploys' tests: pytest-django runs it after them.
@pytest.mark.django_db(transaction=True)
def test_latest_after_teardown():
    executor = MigrationExecutor(connection)
    assert executor.migration_plan(executor.loader.graph.leaf_nodes()) == []
    with connection.cursor() as cursor:
        table = connection.introspection.get_table_description(cursor, "shop_item")
    assert [column.name for column in table] == ["id", "name", "slug"]
