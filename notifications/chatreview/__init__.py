"""Approve or deny an access request from Mattermost (opt-in; README "Approve from Mattermost").

Buttons on root posts (buttons.py) carry a MAC-signed context (signing.py) bound to a nonce
row; a click reaches the web process (views.py), is verified in a fixed order and mapped to a
Teleport user (click.py, users.py), and is submitted to Teleport for that user (submit.py).
Every click leaves one ReviewAttempt row (models.py). The post itself only ever changes
through the watcher and the level-triggered reconcile, never from the click handler.
"""
