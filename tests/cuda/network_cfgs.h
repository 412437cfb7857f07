// Small networks for the CUDA network tests: one with every layer type that has a CUDA forward
// (and the options that change its kernel), one with [shortcut] layers of more than 16 inputs
// (no CUDA forward) in the middle, so fallbacks read device outputs and device layers read
// fallback outputs.
#pragma once

namespace mishnet::test {

// Layer indices in the comments; shapes are w x h x c.
inline const char* kEveryCudaLayerCfg = R"([net]
width=16
height=16
channels=3

# 0: 16x16x8, batch norm folded, mish
[convolutional]
filters=8
size=3
stride=1
pad=1
batch_normalize=1
activation=mish

# 1: 8x8x8, groups, stride 2
[convolutional]
filters=8
size=3
stride=2
pad=1
groups=2
batch_normalize=1
activation=swish

# 2: CSP split, 8x8x4
[route]
layers=-1
groups=2
group_id=1

# 3
[convolutional]
filters=4
size=1
activation=logistic

# 4
[shortcut]
from=-2
activation=linear

# 5: two inputs, learned per-channel weights, softmax-normalised
[shortcut]
from=-3,-2
weights_type=per_channel
weights_normalization=softmax
activation=leaky

# 6: 8x8x12
[route]
layers=-1,-5

# 7: SPP pool, 8x8x12
[maxpool]
size=5
stride=1

# 8: 4x4x12
[maxpool]
size=2
stride=2

# 9: stride_x != stride_y, 2x4x12
[maxpool]
size=2
stride_x=2
stride_y=1

# 10
[route]
layers=8

# 11: 8x8x12
[upsample]
stride=2

# 12: downsample (sum), 4x4x12
[upsample]
stride=-2
scale=0.5

# 13
[batchnorm]

# 14
[activation]
activation=tanh

# 15
[dropout]
probability=0.3

# 16: 1x1x12
[avgpool]

# 17: 4x4x12
[scale_channels]
from=-2

# 18: 4x4x1
[convolutional]
filters=1
size=1
activation=logistic

# 19: per-pixel scale, 4x4x12
[scale_channels]
from=-2
scale_wh=1

# 20
[sam]
from=-3

# 21: 2x2x48
[reorg]
stride=2

# 22: 4x4x12
[reorg3d]
stride=2
reverse=1

# 23: 1x1x12
[implicit]
filters=12

# 24: 4x4x12
[scale_channels]
from=-2

# 25: 2x2x12
[local_avgpool]
size=2
stride=2

# 26: 1x2x12
[crop]
crop_height=2
crop_width=1

# 27
[connected]
output=10
batch_normalize=1
activation=leaky

# 28
[softmax]
groups=2

# 29
[cost]

# 30: 8x8x12
[route]
layers=11

# 31: 8x8x14
[convolutional]
filters=14
size=1
activation=linear

# 32
[yolo]
mask=0,1
anchors=2,3, 4,5, 6,7
num=3
classes=2
scale_x_y=1.05

# 33
[route]
layers=30

# 34: (4+1+2)*2 = 14
[convolutional]
filters=14
size=3
pad=1
activation=linear

# 35
[region]
anchors=1,1, 2,2
num=2
classes=2
coords=4
softmax=1

# 36
[route]
layers=31

# 37: softmax across channels at each position
[softmax]
spatial=1
temperature=2

# 38: 1x1x(2*2*((1+4)*2+3)) = 52
[connected]
output=52
activation=linear

# 39: YOLOv1 head: class softmax per location, the rest copied
[detection]
classes=3
coords=4
side=2
num=2
softmax=1
)";

// A [shortcut] with more than cuda::kMaxShortcutInputs (16) `from` layers has no CUDA forward:
// layers 1 and 3 run on the CPU.
inline const char* kFallbackCfg = R"([net]
width=1
height=1
channels=28

# 0
[connected]
output=28
activation=linear

# 1: reads device layer 0 (download), read by device layer 4 (upload)
[shortcut]
from=0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0
activation=leaky

# 2
[connected]
output=28
activation=leaky

# 3: reads device layer 2 (download); the plan test keeps it, as keep_outputs would
[shortcut]
from=2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2
weights_type=per_feature

# 4: reads fallback layer 1 on the device
[route]
layers=1

# 5: the last layer, downloaded at the end
[route]
layers=-1,0
)";

}  // namespace mishnet::test
