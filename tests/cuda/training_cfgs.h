// Small networks for the GPU training tests. kTrainingCfg: every layer type of the CSP/YOLO
// family that trains on the device (convolution with and without batch norm,
// Mish/leaky/swish/logistic, groups, stride 2; maxpool, shortcut, route with groups and
// concatenation, upsample, [batchnorm], [activation], dropout, global avgpool, connected with
// batch norm, the cost after the softmax) and the host loss layer (softmax with its
// cross-entropy). kAttentionTrainingCfg: the other layers that train on the device (crop, local
// average pooling, the four reorg variants, scale_channels per channel and per pixel, sam,
// implicit, weighted shortcuts with each normalisation).
#pragma once

namespace mishnet::test {

// Layer indices and shapes (w x h x c) in the comments. `%s` in [net] takes extra keys.
inline const char* kTrainingCfg = R"([net]
width=12
height=12
channels=3
batch=4
subdivisions=1
learning_rate=0.05
momentum=0.9
decay=0.0005
max_batches=100
%s

# 0: 12x12x8, batch norm, mish (pre-activation recomputed from x_hat in backward)
[convolutional]
filters=8
size=3
stride=1
pad=1
batch_normalize=1
activation=mish

# 1: 6x6x8
[maxpool]
size=2
stride=2

# 2: 6x6x8, batch norm, leaky
[convolutional]
filters=8
size=1
stride=1
pad=1
batch_normalize=1
activation=leaky

# 3: 6x6x8, no batch norm, swish (pre-activation kept)
[convolutional]
filters=8
size=3
stride=1
pad=1
activation=swish

# 4: 6x6x8, + layer 1
[shortcut]
from=-3
activation=linear

# 5: 6x6x4, CSP split
[route]
layers=-1
groups=2
group_id=1

# 6: 12x12x4
[upsample]
stride=2

# 7: 6x6x8, groups, stride 2, logistic
[convolutional]
filters=8
size=3
stride=2
pad=1
groups=2
batch_normalize=1
activation=logistic

# 8: 6x6x16, concatenation
[route]
layers=-1,4

# 9: a [batchnorm] layer of its own (batch statistics, x_hat on the device)
[batchnorm]

# 10: an [activation] layer (derivative from the kept input)
[activation]
activation=mish

# 11: dropout (the mask drawn from the run's generator: the same on the CPU and the GPU)
[dropout]
probability=0.25

# 12: 1x1x16
[avgpool]

# 13: 1x1x8, batch norm, leaky
[connected]
output=8
batch_normalize=1
activation=leaky

# 14: 1x1x5 class scores
[connected]
output=5
activation=linear

# 15, 16: the loss (host layer) and a pass-through
[softmax]
groups=1

[cost]
type=sse
)";

// Layer indices and shapes (w x h x c) in the comments. `%s` in [net] takes extra keys. The
// tests set the shortcut weights and implicit values to random values (they start constant).
inline const char* kAttentionTrainingCfg = R"([net]
width=8
height=8
channels=3
batch=4
subdivisions=1
learning_rate=0.05
momentum=0.9
decay=0.0005
max_batches=100
%s

# 0: 8x8x4
[convolutional]
filters=4
size=3
stride=1
pad=1
batch_normalize=1
activation=leaky

# 1: 6x6x4: in training a random window per batch, mirrored half the time; y = 2x - 1
[crop]
crop_height=6
crop_width=6
flip=1

# 2: 6x6x8
[convolutional]
filters=8
size=3
stride=1
pad=1
activation=leaky

# 3: 6x6x8, 3x3 windows at stride 1 (the padding is left out of each window's count)
[local_avgpool]
size=3
stride=1

# 4: 3x3x32, [reorg3d] space to depth
[reorg3d]
stride=2

# 5: 6x6x8, [reorg] reverse: depth to space
[reorg]
stride=2
reverse=1

# 6: 3x3x32, YOLOv2's [reorg]
[reorg]
stride=2

# 7: 6x6x8, [reorg3d] reverse (reinterprets both buffers)
[reorg3d]
stride=2
reverse=1

# 8: 1x1x8, squeeze
[avgpool]

# 9: 1x1x8, excitation
[convolutional]
filters=8
size=1
activation=logistic

# 10: 6x6x8: layer 7 scaled per channel, swish (the product kept for its derivative)
[scale_channels]
from=7
activation=swish

# 11: 6x6x1
[convolutional]
filters=1
size=1
activation=logistic

# 12: 6x6x8: layer 10 scaled per pixel
[scale_channels]
from=10
scale_wh=1

# 13: 6x6x8
[convolutional]
filters=8
size=1
activation=logistic

# 14: 6x6x8: layer 12 times layer 13, mish
[sam]
from=12
activation=mish

# 15: 8x1x1 learned values
[implicit]
filters=8
mean=1

# 16: 6x6x8: layer 14 scaled per channel by the learned values (YOLOR's implicit_mul)
[scale_channels]
from=14

# 17: 6x6x8: layers 16, 14 and 12 with per-channel softmax-normalised weights
[shortcut]
from=14,12
weights_type=per_channel
weights_normalization=softmax
activation=leaky

# 18: 6x6x8: layers 17 and 7 with per-input relu-normalised weights, swish
[shortcut]
from=7
weights_type=per_feature
weights_normalization=relu
activation=swish

# 19: 6x6x8: layers 18 and 10 with raw per-input weights
[shortcut]
from=10
weights_type=per_feature

# 20: 3x3x8, 2x2 windows at stride 2
[local_avgpool]
size=2
stride=2

# 21: 1x1x8
[avgpool]

# 22: 1x1x5 class scores
[connected]
output=5
activation=linear

# 23, 24: the loss (host layer) and a pass-through
[softmax]
groups=1

[cost]
type=sse
)";

}  // namespace mishnet::test
