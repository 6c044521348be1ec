# The example of docs/howto/pytest-plugin.rst.


def test_slugs_backfilled_across_the_deploy(staged_deploy):
    deploy = staged_deploy(deployed=[("shop", "0001_initial")])

    # Release N serves: it writes items.
    old_apps = deploy.before()
    old_apps.get_model("shop", "Item").objects.create(name="Blue Mug")

    # Pre-deploy: release N keeps writing items, without slugs; release N+1 starts.
    old_apps, new_apps = deploy.pre_deploy()
    assert deploy.pre_deployed == [("shop", "0002_item_slug")]
    old_apps.get_model("shop", "Item").objects.create(name="Red Mug")
    Item = new_apps.get_model("shop", "Item")
    Item.objects.create(name="Green Mug", slug="green-mug")
    assert sorted(Item.objects.values_list("slug", flat=True)) == ["", "", "green-mug"]

    # Post-deploy: the backfill sees every item release N wrote.
    deploy.post_deploy()
    assert deploy.post_deployed == [("shop", "0003_backfill_item_slug")]
    slugs = sorted(Item.objects.values_list("slug", flat=True))
    assert slugs == ["blue-mug", "green-mug", "red-mug"]
