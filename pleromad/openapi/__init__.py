"""The OpenAPI 3.1 document of every route the daemon serves.

Each route declares its own operation next to its handler (``doc=`` of
:func:`pleromad.web.base.route`), built with the blocks of :mod:`.spec`;
:mod:`.entities` holds the schemas of the entities the API answers with,
and :mod:`.document` assembles the whole from the route map, taking each
route's security from its declared access.  Tests validate every JSON
answer they receive against it, so it cannot drift from the code.
"""
