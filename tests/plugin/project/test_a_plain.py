def test_plain(request):
    # Not a migration test; the plugin is loaded, from its entry point.
    assert request.node.get_closest_marker("migration_test") is None
    plugin = request.config.pluginmanager.get_plugin("green_makemigrations")
    assert plugin.__name__ == "green_makemigrations.pytest_plugin"
