"""Sphinx extension: load each script of a page once.

With the extensions Jupyter Book 1.x enables, some scripts are registered twice on a page (the
Thebe and toggle-button settings, and MathJax itself, once deferred and once not). Loaded twice,
they stop with console errors ("Identifier 'THEBE_JS_URL' has already been declared", MathJax's
"Cannot set property Package"). This keeps the first registration of every script.
"""


def _key(script):
    if isinstance(script, str):  # a plain file name, as older Sphinx versions store them
        return script, ""
    return str(script.filename or ""), script.attributes.get("body", "")


def _keep_first(app, pagename, templatename, context, doctree):
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, unique = set(), []
    for script in scripts:
        key = _key(script)
        if key not in seen:
            seen.add(key)
            unique.append(script)
    context["script_files"] = unique


def setup(app):
    # Runs after the extensions that add per-page scripts (default priority 500).
    app.connect("html-page-context", _keep_first, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
