import pytest
import torch

from phased_dmd.guidance import guide


def test_standard_form_interpolates_and_extrapolates(gen):
    v_u, v_c = torch.randn(2, 5, 3, generator=gen, dtype=torch.float64)
    torch.testing.assert_close(guide("standard", v_u, v_c, 0.0), v_u)
    torch.testing.assert_close(guide("standard", v_u, v_c, 1.0), v_c)
    torch.testing.assert_close(guide("standard", v_u, v_c, 4.0), v_c + 3.0 * (v_c - v_u))


def test_plus_one_form_is_the_standard_form_at_scale_plus_one(gen):
    v_u, v_c = torch.randn(2, 5, 3, generator=gen, dtype=torch.float64)
    torch.testing.assert_close(guide("plus_one", v_u, v_c, 3.0), guide("standard", v_u, v_c, 4.0))


def test_unknown_form_is_refused():
    with pytest.raises(ValueError, match="unknown CFG form 'apg'"):
        guide("apg", torch.zeros(1), torch.zeros(1), 1.0)
