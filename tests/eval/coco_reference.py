#!/usr/bin/env python3
"""pycocotools' COCOeval (bbox) on a ground-truth and a results file; prints the 12 summary
numbers as one JSON list. tests/eval/test_coco_eval.cpp compares mishnet's with them."""
import contextlib
import io
import json
import sys

from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval


def main():
    gt_path, results_path = sys.argv[1], sys.argv[2]
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(gt_path)
        dt = gt.loadRes(results_path)
        ev = COCOeval(gt, dt, "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    print(json.dumps([float(x) for x in ev.stats]))


if __name__ == "__main__":
    main()
