"""Two readers' agreement on one face (bench.metrics.landmarks): IoU, greedy box matching and the five-point NME
against values worked out by hand."""

import numpy as np
import pytest

from bench.metrics.landmarks import box_iou, match_boxes, nme, points_box


def test_box_iou_known_values():
    a = np.array([[0, 0, 10, 10], [0, 0, 0, 5]])      # the second box has no area
    b = np.array([[5, 5, 15, 15], [0, 0, 10, 10], [20, 20, 30, 30]])
    iou = box_iou(a, b)
    assert iou.shape == (2, 3)
    assert iou[0, 0] == pytest.approx(25 / 175)         # 5 x 5 overlap, 100 + 100 - 25 union
    assert iou[0, 1] == 1.0 and iou[0, 2] == 0.0
    assert (iou[1] == 0).all()


def test_match_boxes_is_one_to_one_by_decreasing_iou():
    a = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60]])
    b = np.array([[1, 1, 11, 11], [100, 100, 110, 110]])
    # b[0] overlaps a[1] fully and a[0] at 81/119: a[1] takes it, a[0] is left without a partner
    assert match_boxes(a, b) == [(1, 0, 1.0)]
    assert match_boxes(a, np.zeros((0, 4))) == []
    far = np.array([[5, 5, 15, 15]])                     # IoU 25/175 = 0.14 with a[0]
    assert match_boxes(a[:1], far, min_iou=0.3) == []
    assert match_boxes(a[:1], far, min_iou=0.1) == [(0, 0, pytest.approx(25 / 175))]


def test_nme_known_value_and_invariance():
    p = np.array([[30, 40], [70, 40], [50, 60], [35, 80], [65, 80]], float)   # inter-ocular distance 40
    q = p + np.array([3.0, 4.0])                                              # every point 5 px off
    assert nme(p, q) == pytest.approx(5 / 40)
    assert nme(p, p) == 0.0
    # scaling both sets leaves the normalised error unchanged; a batch axis is kept
    assert nme(np.stack([p, 2 * p]), np.stack([q, 2 * q])) == pytest.approx([0.125, 0.125])
    with pytest.raises(ValueError, match="5, 2"):
        nme(p[:4], q[:4])


def test_points_box():
    assert points_box(np.array([[3, 9], [1, 4], [7, 2]])).tolist() == [1, 2, 7, 9]
