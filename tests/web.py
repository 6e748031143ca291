"""Settings for tests that speak HTTP to the web UI (test client, live server, browser).

The settings module defaults to production-safe values (HTTPS redirect, Secure cookies)
when DEBUG is off, which is how the suite runs; the test client and the live server speak
plain HTTP.
"""

PLAIN_HTTP = {
    "SECURE_SSL_REDIRECT": False,
    "SESSION_COOKIE_SECURE": False,
    "CSRF_COOKIE_SECURE": False,
    "SECURE_HSTS_SECONDS": 0,
}
