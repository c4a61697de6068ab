"""gunicorn settings, read from the working directory by every `gunicorn` started here
(the Dockerfile's command, docker-compose and the fuzz tests)."""

# The longest request line gunicorn accepts (its default is 4094); the API bounds its own
# free-text parameters well below this.
limit_request_line = 8190
# Workers log their requests' errors to stderr, never to the client.
errorlog = "-"
