// A small network for the GPU training tests: every layer type of the CSP/YOLO family that
// trains on the device (convolution with and without batch norm, Mish/leaky/swish/logistic,
// groups, stride 2; maxpool, shortcut, route with groups and concatenation, upsample,
// [batchnorm], [activation], dropout, global avgpool, connected with batch norm, the cost after
// the softmax) and the host loss layer (softmax with its cross-entropy).
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

}  // namespace mishnet::test
