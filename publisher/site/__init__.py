"""The comparison site: Markdown pages and chart specs generated from the published tables.

``pages.build_pages`` writes ``site/docs/generated/``; ``build.build_site`` vendors plotly.js
and runs ``mkdocs build --strict``. Nothing here reads run directories.
"""
