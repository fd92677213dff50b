"""Staff GUI (htmx + Jinja): login, sessions, and later analytics and the flow editor."""
