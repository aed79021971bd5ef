"""Structured output: pull typed fields out of free text.

What it shows: ``response_schema=`` with a pydantic model, so ``reply.output`` is a validated
``Invoice`` (an answer that doesn't validate is sent back to the model with the errors, up to
``output_retries`` times); asking several documents at once with ``asyncio.gather``.

Run it:

    python examples/structured_output.py

Offline on Baton's scripted model as written (its answers are the JSON a model would send).
For a real model, change the ``MODEL`` line (e.g. ``MODEL = "openai:gpt-5-mini"``).
"""

from __future__ import annotations

import asyncio
import json

from pydantic import BaseModel, Field

from baton import Agent, ModelConfig, ModelRequest
from baton.models.base import ModelCall
from baton.testing import ScriptedModel

MODEL: ModelConfig | str = "scripted"  # the one line to change, e.g. "gemini:gemini-2.5-flash"


class LineItem(BaseModel):
    description: str
    quantity: int = Field(ge=1)
    unit_price: float


class Invoice(BaseModel):
    """The fields we want from an invoice, whatever its layout."""

    vendor: str
    invoice_number: str
    currency: str = Field(description="ISO 4217 code, e.g. EUR")
    items: list[LineItem]

    @property
    def total(self) -> float:
        return sum(item.quantity * item.unit_price for item in self.items)


DOCUMENTS = [
    "INVOICE #2026-114 from Nordlicht GmbH. 3 x desk lamp at 24.90 EUR; 1 x shipping 6.50 EUR.",
    "Bill no. 88 - Casa Verde Ltd - two bags of coffee, GBP 12 each. Thanks for your order!",
]


async def main() -> None:
    agent = Agent(
        "extractor",
        "Extract the invoice's fields. Use the currency's ISO code.",
        config=model(),
        response_schema=Invoice,
    )
    replies = await asyncio.gather(*(agent.ask(text) for text in DOCUMENTS))
    for reply in replies:
        invoice = reply.output  # an Invoice, validated
        print(
            f"{invoice.vendor} #{invoice.invoice_number}: {len(invoice.items)} item(s), "
            f"total {invoice.total:.2f} {invoice.currency}"
        )
        for item in invoice.items:
            print(f"  {item.quantity} x {item.description} @ {item.unit_price:.2f}")


def model() -> ModelConfig | str:
    """``MODEL``, or when it is "scripted" the canned answers below: the JSON for each document."""
    if MODEL != "scripted":
        return MODEL
    answers = {
        "Nordlicht": {
            "vendor": "Nordlicht GmbH",
            "invoice_number": "2026-114",
            "currency": "EUR",
            "items": [
                {"description": "desk lamp", "quantity": 3, "unit_price": 24.9},
                {"description": "shipping", "quantity": 1, "unit_price": 6.5},
            ],
        },
        "Casa Verde": {
            "vendor": "Casa Verde Ltd",
            "invoice_number": "88",
            "currency": "GBP",
            "items": [{"description": "bag of coffee", "quantity": 2, "unit_price": 12.0}],
        },
    }

    def answer(call: ModelCall) -> str:
        # A scripted turn may be a function of the request: answer the document it was shown.
        asked = call.last.text if isinstance(call.last, ModelRequest) else ""
        return next(json.dumps(a) for key, a in answers.items() if key in asked)

    return ScriptedModel(answer, repeat=True)


if __name__ == "__main__":
    asyncio.run(main())
