"""The screening page (``prioritiser screen``): one record at a time in the browser, team modes,
live progress and agreement, served locally over the project store.

- :mod:`prioritiser.web.app`: the Starlette server and its JSON API; :func:`serve`;
- :mod:`prioritiser.web.queue`: which record each reviewer sees next;
- :mod:`prioritiser.web.retrain`: background retraining in a worker process;
- :mod:`prioritiser.web.security`: host, token and CSRF checks;
- ``static/``: the page (HTML, CSS, JavaScript), shipped with the package.
"""
