"""Causality of the PixelCNN models, checked on the gradient of the logits with respect to the input."""

from __future__ import annotations

import pytest
import torch

from score_vision.pixel.pixelcnn import GatedPixelCnn, PixelCnn, PixelCnnConfig, build_pixelcnn

SIZE = 9


def input_gradient(model: torch.nn.Module, row: int, col: int, colour: int, colours: int) -> torch.Tensor:
    """|d logits(row, col, colour) / d input| summed over the 256 logits: (colours, H, W)."""
    model = model.double()
    image = torch.rand(2, colours, SIZE, SIZE, dtype=torch.float64) * 255
    image.requires_grad_(True)
    logits = model(image)
    logits[:, :, colour, row, col].sum().backward()
    return image.grad.abs().sum(dim=0)


def later_in_order(row: int, col: int, colour: int, colours: int) -> torch.Tensor:
    """True for every subpixel the logit at (row, col, colour) must not see."""
    later = torch.zeros(colours, SIZE, SIZE, dtype=torch.bool)
    later[:, row, col + 1:] = True
    later[:, row + 1:, :] = True
    later[colour:, row, col] = True
    return later


CASES = [(0, 0), (4, 4), (4, 0), (0, 8), (8, 8), (3, 7)]


@pytest.mark.parametrize("kind", ["pixelcnn", "gated"])
@pytest.mark.parametrize("colours", [1, 3])
@pytest.mark.parametrize(("row", "col"), CASES)
def test_no_logit_sees_its_own_or_a_later_subpixel(kind: str, colours: int, row: int, col: int) -> None:
    torch.manual_seed(0)
    config = PixelCnnConfig(kind=kind, colours=colours, size=(SIZE, SIZE), channels=12, layers=3, kernel=5)
    model = build_pixelcnn(config)
    for colour in range(colours):
        gradient = input_gradient(model, row, col, colour, colours)
        forbidden = later_in_order(row, col, colour, colours)
        assert gradient[forbidden].abs().max().item() == 0.0, f"colour {colour} sees a later subpixel"
        if colour > 0:
            assert (gradient[:colour, row, col] > 0).all(), "earlier colours of the same pixel are unseen"


@pytest.mark.parametrize("colours", [1, 3])
def test_gated_pixelcnn_has_no_blind_spot(colours: int) -> None:
    torch.manual_seed(1)
    config = PixelCnnConfig(kind="gated", colours=colours, size=(SIZE, SIZE), channels=12, layers=3, kernel=3)
    model = GatedPixelCnn(config)
    rows_above, reach = model.receptive_field()
    row, col = 5, 4
    gradient = input_gradient(model, row, col, 0, colours).sum(dim=0)
    for r in range(SIZE):
        for c in range(SIZE):
            earlier = r < row or (r == row and c < col)
            inside = row - r <= rows_above and abs(c - col) <= reach if r < row else col - c <= reach
            if earlier and inside:
                assert gradient[r, c] > 0, f"blind spot at ({r}, {c}) for the logit at ({row}, {col})"
            elif earlier:
                assert gradient[r, c] == 0, f"({r}, {c}) is outside the receptive field but is seen"
    # up and to the right of the pixel is exactly where a re-masked vertical stack is blind
    assert gradient[row - 1, col + reach] > 0


def test_the_plain_pixelcnn_has_the_blind_spot_the_gated_one_removes() -> None:
    torch.manual_seed(2)
    config = PixelCnnConfig(kind="pixelcnn", colours=1, size=(SIZE, SIZE), channels=8, layers=3)
    gradient = input_gradient(PixelCnn(config), 6, 2, 0, 1)[0]
    assert gradient[5, 8] == 0  # far up-right: outside the triangular field of stacked masked kernels
    assert gradient[5, 2] > 0 and gradient[6, 1] > 0
