"""tap-msgreports: messaging-campaign reports from CleverTap, Messangi and MoEngage."""
