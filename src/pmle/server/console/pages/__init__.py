"""One module per console area; each registers its routes with `@page` / `@action`."""
