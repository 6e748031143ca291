import os

from django.core.exceptions import ImproperlyConfigured
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bridge.settings")
application = get_wsgi_application()

from bridge.startup import server_settings_problem  # noqa: E402 (needs the settings)

# The web UI signs sessions and CSRF tokens: never with a key nobody chose.
if (_problem := server_settings_problem()) is not None:
    raise ImproperlyConfigured(f"{_problem} ({_problem.hint})")
