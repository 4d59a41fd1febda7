"""CleverTap: Get Campaigns and Get Message Reports."""
