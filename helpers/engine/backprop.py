"""Step 4, backpropagation: clear the old gradients, then fill each parameter's .grad (notebook 04)."""

from __future__ import annotations


def backward(loss, optimizer) -> None:
    """Step 4: clear the old gradients, then fill each weight's .grad from this loss."""
    optimizer.zero_grad()
    loss.backward()
