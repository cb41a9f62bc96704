"""`winback offers`: incentives (coupons, points, trials), their mapping to layers, and retiring them."""

from __future__ import annotations

from typing import Annotated

import typer

from console.cli.output import JsonFlag, emit_rows, print_json, say, workspace_from
from console.config import Config

offers_app = typer.Typer(help="Incentives (coupons, points, trials), their mapping to layers, retiring them.",
                         no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root `winback` app."""
    app.add_typer(offers_app, name="offers")


@offers_app.command("list")
def offers_list(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """Offers, what they give, which layers get them, and their state (active, or retired: kept for the campaigns
    that used them, not offered for new ones)."""
    from console import offers

    db = workspace_from(ctx).open()
    rows = offers.list_offers(db)
    emit_rows(rows, as_json=as_json, columns=["name", "kind", "summary", "layers", "state"],
              empty="no offers yet: add one with `winback offers add NAME --kind coupon ...`")


@offers_app.command("add")
def offers_add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="A name for the offer, e.g. back20.")],
    kind: Annotated[str, typer.Option("--kind", help="coupon | points | trial | none")] = "coupon",
    threshold: Annotated[float | None, typer.Option("--threshold", help="Coupon: minimum spend.")] = None,
    amount: Annotated[float | None, typer.Option("--amount", help="Coupon: amount off.")] = None,
    validity: Annotated[int | None, typer.Option("--validity", help="Days it stays valid after the send.")] = None,
    multiplier: Annotated[float | None, typer.Option("--multiplier", help="Points: x2, x3 …")] = None,
    trial_days: Annotated[int | None, typer.Option("--trial-days", help="Trial: length in days.")] = None,
    currency: Annotated[str | None, typer.Option("--currency", help="Default: the workspace currency.")] = None,
    description: Annotated[str | None, typer.Option("--description", help="What it is for.")] = None,
    layer: Annotated[list[str] | None, typer.Option("--layer", help="Give this layer the offer, e.g. \"cold loyal\" "
                                                                     "(repeatable).")] = None,
    replace: Annotated[bool, typer.Option("--replace", help="Change an existing offer of that name.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Add an offer, e.g. `winback offers add back20 --kind coupon --threshold 100 --amount 20 --validity 7`."""
    from dataclasses import asdict

    from console import offers

    ws = workspace_from(ctx)
    for each in layer or []:
        _check_layer(ws.config, each)
    db = ws.open()
    offer = offers.Offer(name=name, kind=kind, threshold=threshold, amount=amount,
                         currency=currency or ws.config.currency, validity_days=validity, multiplier=multiplier,
                         trial_days=trial_days, description=description)
    offers.add(db, offer, layers=layer or [], replace=replace)
    if as_json:
        print_json(asdict(offer) | {"layers": layer or []})
    else:
        say(f"saved offer {name}: {offer.summary()}" + (f"; layers {', '.join(layer)}" if layer else ""))


@offers_app.command("map")
def offers_map(
    ctx: typer.Context,
    layer: Annotated[str, typer.Argument(help='A layer, e.g. "cold loyal" (`winback segments show NAME` draws '
                                              'the layers).')],
    offer: Annotated[str | None, typer.Argument(help="Offer name; leave out with --remove.")] = None,
    remove: Annotated[bool, typer.Option("--remove", help="Take the layer's offer away.")] = False,
) -> None:
    """Give a layer its offer, or take it away (`--remove`).

    Campaigns with --offer-by-layer, `preview` and `templates lint` then give each user their layer's offer.
    Example: `winback offers map "cold loyal" back50`
    """
    from console import offers
    from console.errors import BadInput

    if not remove and not offer:
        raise BadInput("name the offer, or pass --remove")
    ws = workspace_from(ctx)
    if not remove:                      # removing a stale mapping of a renamed layer must stay possible
        _check_layer(ws.config, layer)
    db = ws.open()
    offers.map_layer(db, layer, None if remove else offer)
    say(f"layer {layer}: {'no offer' if remove else offer}")


@offers_app.command("retire")
def offers_retire(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The offer to retire.")],
    unmap: Annotated[bool, typer.Option("--unmap", help="Also take it off the layers it is mapped to (without "
                                                       "it, a mapped offer is refused; a terminal asks).")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Retire an offer: it stays for the campaigns, programs and sends that used it (ledger, outcomes, a
    recurring run), and is no longer offered for new campaigns, programs or the layer mapping.

    Example: `winback offers retire back20` (`--unmap` when layers still get it)
    """
    import sys

    from console import offers

    db = workspace_from(ctx).open()
    try:
        layers = offers.mapped_layers(db, name)
        if layers and not unmap and sys.stdin.isatty():
            try:
                unmap = typer.confirm(f"offer {name} is mapped to {', '.join(layers)}: retire it and take it off "
                                      f"{'those layers' if len(layers) > 1 else 'that layer'}?", err=True)
            except typer.Abort:     # no answer: nothing is changed, and the refusal says what to do
                unmap = False
        result = offers.retire(db, name, unmap=unmap)
    finally:
        db.close()
    if as_json:
        print_json(result)
        return
    say(f"retired offer {name}: kept for the campaigns that used it, not offered for new ones"
        + (f"; taken off {', '.join(result['unmapped'])}" if result["unmapped"] else ""))


def _check_layer(config: Config, layer: str) -> None:
    """A mapping for a layer nobody can be in would silently never apply: refuse it, listing the real ones."""
    from console import layers
    from console.errors import BadInput

    names = layers.settings(config).layer_names()
    if layer not in names:
        raise BadInput(f"no layer {layer!r}; layers are: {', '.join(names)} (quote the two words)")
