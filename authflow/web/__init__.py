"""The browser-facing pages of `authflow serve`: the hosted sign-in of each pool's domain
(`hosted.py`, with the OAuth 2.0 endpoints) and the admin console (`console.py`).

Theory of operation: pages are server-rendered HTML (Jinja2 with autoescape on,
`templating.py`) that work without JavaScript: plain forms, POST-redirect-GET. Every form
carries a CSRF token, every page sends the security headers, and cookies are `HttpOnly`,
`SameSite=Lax`, and `Secure` over https (`security.py`). The pages call the same service
functions as the JSON API; a page never decides anything the service does not.
"""
