"""The session service: chat sessions, their messages, tool selection and variables."""
