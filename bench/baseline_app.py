"""The baseline: a bare Litestar app rendering a template of the same size as a widget step, no I/O."""

from __future__ import annotations

from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from litestar import Litestar, post
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Template
from litestar.template.config import TemplateConfig

HERE = Path(__file__).resolve().parent


# The survey step's markup with plain variables (no macros, no translation calls), with as many reasons
# as makes its output the mean size of the two step partials the widget rows alternate between.
REASONS = 5
SESSION_ID = "ses_" + "x" * 24
TOKEN = "f1." + "x" * 104 + "." + "y" * 43  # as long as a flow token


@post("/step", status_code=200)
async def step() -> Template:
    reasons = [
        {"id": f"reason_{i}", "label": f"Reason number {i}", "prompt": "Tell us more?" if i % 2 else ""}
        for i in range(REASONS)
    ]
    return Template(template_name="baseline_step.html", context={"reasons": reasons, "token": TOKEN, "sid": SESSION_ID})


env = Environment(loader=FileSystemLoader(HERE), undefined=StrictUndefined, autoescape=True)
app = Litestar(
    route_handlers=[step], template_config=TemplateConfig(instance=JinjaTemplateEngine.from_environment(env))
)
