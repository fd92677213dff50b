"""The baseline: a bare Litestar app rendering a template of the same size as a widget step, no I/O."""

from __future__ import annotations

from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from litestar import Litestar, post
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Template
from litestar.template.config import TemplateConfig

HERE = Path(__file__).resolve().parent


@post("/step", status_code=200)
async def step() -> Template:
    reasons = [{"id": f"r{i}", "label": f"Reason number {i}"} for i in range(8)]
    return Template(template_name="baseline_step.html", context={"reasons": reasons, "token": "x" * 180})


env = Environment(loader=FileSystemLoader(HERE), undefined=StrictUndefined, autoescape=True)
app = Litestar(
    route_handlers=[step], template_config=TemplateConfig(instance=JinjaTemplateEngine.from_environment(env))
)
