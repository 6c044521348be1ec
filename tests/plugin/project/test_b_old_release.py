def test_old_release_after_pre_deploy(request, staged_deploy):
    assert request.node.get_closest_marker("migration_test") is not None
    old_apps, new_apps = staged_deploy(("shop", "0001")).pre_deploy()
    old_apps.get_model("shop", "Item").objects.create(name="Blue Mug")
    assert list(new_apps.get_model("shop", "Item").objects.values_list("slug", flat=True)) == [""]
    # No post-deploy: the teardown applies it.
