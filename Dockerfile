# The register served by gunicorn; docker-compose.yml pairs it with PostgreSQL. The container
# only serves; `migrate` as its command (compose's one-off service) migrates as the owner role
# (docker-entrypoint.sh). .dockerignore keeps .venv, var/, .git and .env out of the image.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 STATIC_ROOT=/app/static
WORKDIR /app

COPY pyproject.toml ./
COPY caseregister ./caseregister
COPY cases ./cases
RUN pip install --no-cache-dir .

COPY . .
RUN pybabel compile --domain django --directory locale \
    && SECRET_KEY=build DATABASE_URL=postgres://build@localhost/build \
       python manage.py collectstatic --noinput

RUN useradd --system --home /app register && chown -R register /app
USER register
EXPOSE 8000
COPY docker-entrypoint.sh /usr/local/bin/
ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["gunicorn", "caseregister.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "2"]
