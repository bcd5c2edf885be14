"""What `datasette --plugins-dir scraper/serve/plugins` loads: the archive plugin's hooks (in scraper.serve.plugin)."""

from scraper.serve.plugin import (
    asgi_wrapper,
    extra_css_urls,
    extra_template_vars,
    filters_from_request,
    get_metadata,
    prepare_connection,
    register_facet_classes,
    register_routes,
    render_cell,
    startup,
)

__all__ = [
    "asgi_wrapper",
    "extra_css_urls",
    "extra_template_vars",
    "filters_from_request",
    "get_metadata",
    "prepare_connection",
    "register_facet_classes",
    "register_routes",
    "render_cell",
    "startup",
]
