"""The OpenAPI 3.1 document of every route the daemon serves.

Each module here describes the operations of one API family (mirroring
:mod:`pleromad.web`) with the building blocks of :mod:`.spec`;
:mod:`.entities` holds the schemas several families answer with, and
:mod:`.document` assembles the whole, taking each route's security from
the route map itself.  Tests validate every JSON answer they receive
against it, so it cannot drift from the code.
"""
