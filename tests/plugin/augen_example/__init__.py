"""A third-party generator package, as small as one can be: the template for adding a generator
(docs/architecture.md, "Add a generator")."""
