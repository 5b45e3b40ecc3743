"""Who may do what, and how much: tokens and roles, the Host and Origin rules, and the log's budgets.

Transport-free: the endpoints and the session apply these rules; nothing here imports Tornado.
"""
