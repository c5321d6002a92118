#!/usr/bin/python3
"""PyTorch definitions of arunet's baselines (U-Net, Attention U-Net), mirroring
java-api/core/src/main/java/org/arunet/model/UNet.java, to check the Java models independently.

    apt-get install -y python3-torch
    /usr/bin/python3 make_baseline_fixtures.py OUT_DIR

Prints parameter counts of the width-64 models and writes baseline_<arch>_tiny.safetensors fixtures
(width 4, batch 2 x 3 x 32 x 32, train mode): param.*, input, target, logits, loss, grad.*, computed in
float64 from the float32 parameters and input, stored as float32.
The loss is arunet's CE + Dice (the reference aru_net.py's loss), imported from ../shared/reference.
"""
import json
import os
import struct
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F


class CBR(nn.Module):
    def __init__(self, cin, cout, bias):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, padding=1, bias=bias)
        self.bn = nn.BatchNorm2d(cout)

    def forward(self, x):
        return F.relu(self.bn(self.conv(x)))


class DoubleConv(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.a = CBR(cin, cout, False)
        self.b = CBR(cout, cout, False)

    def forward(self, x):
        return self.b(self.a(x))


class AttentionGate(nn.Module):
    def __init__(self, fg, fl, fint):
        super().__init__()
        self.w_g, self.w_g_bn = nn.Conv2d(fg, fint, 1), nn.BatchNorm2d(fint)
        self.w_x, self.w_x_bn = nn.Conv2d(fl, fint, 1), nn.BatchNorm2d(fint)
        self.psi, self.psi_bn = nn.Conv2d(fint, 1, 1), nn.BatchNorm2d(1)

    def forward(self, g, x):
        s = F.relu(self.w_g_bn(self.w_g(g)) + self.w_x_bn(self.w_x(x)))
        return x * torch.sigmoid(self.psi_bn(self.psi(s)))


class Stage(nn.Module):
    def __init__(self, cin, cout, attention):
        super().__init__()
        self.up = CBR(cin, cout, True)
        self.gate = AttentionGate(cout, cout, max(1, cout // 2)) if attention else None
        self.conv = DoubleConv(2 * cout, cout)

    def forward(self, x, skip):
        u = self.up(F.interpolate(x, scale_factor=2, mode="nearest"))
        if self.gate is not None:
            skip = self.gate(u, skip)
        return self.conv(torch.cat([u, skip], 1))


class UNet(nn.Module):
    def __init__(self, in_ch=3, classes=2, width=64, attention=False):
        super().__init__()
        c = [width * 2 ** i for i in range(5)]
        self.enc1 = DoubleConv(in_ch, c[0])
        self.enc2, self.enc3 = DoubleConv(c[0], c[1]), DoubleConv(c[1], c[2])
        self.enc4, self.enc5 = DoubleConv(c[2], c[3]), DoubleConv(c[3], c[4])
        self.dec4, self.dec3 = Stage(c[4], c[3], attention), Stage(c[3], c[2], attention)
        self.dec2, self.dec1 = Stage(c[2], c[1], attention), Stage(c[1], c[0], attention)
        self.head = nn.Conv2d(c[0], classes, 1)

    def forward(self, x):
        f1 = self.enc1(x)
        f2 = self.enc2(F.max_pool2d(f1, 2))
        f3 = self.enc3(F.max_pool2d(f2, 2))
        f4 = self.enc4(F.max_pool2d(f3, 2))
        z = self.enc5(F.max_pool2d(f4, 2))
        z = self.dec4(z, f4)
        z = self.dec3(z, f3)
        z = self.dec2(z, f2)
        return self.head(self.dec1(z, f1))


def save(path, tensors, meta):
    header, blobs, off = {"__metadata__": meta}, [], 0
    for k, t in tensors.items():
        t = t.detach().contiguous().cpu()
        dtype = {torch.float32: "F32", torch.int64: "I64"}[t.dtype]
        b = t.numpy().tobytes()
        header[k] = {"dtype": dtype, "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def main(out):
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path.insert(0, os.path.join(here, "..", "..", "..", "..", "..", "shared", "reference"))
    import aru_net as A  # the reference loss

    os.makedirs(out, exist_ok=True)
    for att in (False, True):
        m = UNet(width=64, attention=att)
        print("%s width 64: %d parameters" % ("attention-unet" if att else "unet", sum(p.numel() for p in m.parameters())))
    for i, att in enumerate((False, True)):
        name = "attention-unet" if att else "unet"
        torch.manual_seed(10 + i)
        m = UNet(width=4, attention=att)
        t = {"param." + k: v.clone() for k, v in m.state_dict().items()}
        m = m.double()  # computed in float64 so that the expected values carry no float32 rounding
        x = torch.randn(2, 3, 32, 32)
        y = torch.randint(0, 2, (2, 32, 32))
        m.train()
        logits = m(x.double())
        loss = A.loss(logits, y)
        loss.backward()
        t.update(input=x, target=y, logits=logits, loss=loss.reshape(1))
        t.update({"grad." + k: p.grad for k, p in m.named_parameters()})
        t = {k: (v.float() if v.dtype != torch.int64 else v) for k, v in t.items()}  # stored as float32
        save(os.path.join(out, "baseline_%s_tiny.safetensors" % name), t,
             {"config": "%s width 4, seed %d" % (name, 10 + i), "torch": torch.__version__})
    print("fixtures written to", out)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "fixtures")
