"""`echoai-migrate-json`: move a legacy EchoAI JSON tree (agents, workflows, sessions, tools) into PostgreSQL.

Writes go through each service's own repository; every file is its own transaction, so a bad file never
undoes a good one. Re-running changes nothing: each object is compared with what is stored before it is written.
"""
