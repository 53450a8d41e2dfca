"""``%flyte_deploy``: parse the options, build the deploy request, call the core."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flyte_jupyter._usage import parse_options, show_help, usage_errors

if TYPE_CHECKING:
    from flyte_jupyter.deploy import Deployment, DeployPlan
    from flyte_jupyter.magics import FlyteMagics


def deploy_magic(magics: FlyteMagics, line: str) -> Deployment | DeployPlan | None:
    """Body of ``%flyte_deploy``: the result (or, with ``--dry-run``, the plan); None for help."""
    from flyte_jupyter.deploy import deploy
    from flyte_jupyter.widgets.progress import progress_bar

    if show_help(magics.flyte_deploy, line):
        return None
    args = parse_options(magics.flyte_deploy, line)
    settings = magics.settings(args)
    with usage_errors(), progress_bar("Deploying") as progress:
        request = magics.session.deploy_request(settings, list(args.entities))
        return deploy(request, dry_run=args.dry_run, progress=progress)
