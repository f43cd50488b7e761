"""The evaluation table and grid as the version's admin page shows them."""
from django.core.files.storage import default_storage
from django.utils.html import format_html, format_html_join

from ratings_site.jobs.models import Job


def _cell(value):
    if isinstance(value, float):
        return f"{value:.4g}"
    return "" if value is None else str(value)


def evaluation_html(job: Job | None) -> str:
    if job is None:
        return "Not evaluated yet: use the action Evaluate on the version list."
    if job.status != Job.Status.SUCCEEDED:
        detail = f": {job.error.splitlines()[0]}" if job.error else ""
        return format_html("Evaluation job #{} is {}{}", job.pk, job.status, detail)
    rows = job.result.get("rows") or []
    columns = list(rows[0]) if rows else []
    head = format_html_join("", "<th>{}</th>", ((c,) for c in columns))
    body = format_html_join(
        "", "<tr>{}</tr>", ((format_html_join("", "<td>{}</td>", ((_cell(r.get(c)),) for c in columns)),) for r in rows)
    )
    files = job.result.get("files") or {}
    grid = format_html('<p><img id="evaluation-grid" src="{}" style="max-width:100%" alt="sample grid"></p>',
                       default_storage.url(files["grid_png"])) if files.get("grid_png") else ""
    links = format_html_join(" ", '<a href="{}">{}</a>', ((default_storage.url(files[k]), k) for k in ("table_csv", "table_md") if k in files))
    return format_html(
        '<p>Job #{} on {}</p><table id="evaluation-table"><tr>{}</tr>{}</table><p>{}</p>{}',
        job.pk, job.result.get("pairs_manifest", ""), head, body, links, grid,
    )
