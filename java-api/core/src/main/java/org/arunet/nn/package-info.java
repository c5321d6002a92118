/**
 * Layers and blocks of ARU-Net and the baselines, each with typed forward and backward passes and
 * PyTorch's parameter names: {@link org.arunet.nn.Conv2d}, {@link org.arunet.nn.BatchNorm2d},
 * {@link org.arunet.nn.CBR}, {@link org.arunet.nn.Residual}, {@link org.arunet.nn.SpatialAttention},
 * {@link org.arunet.nn.MixerBlock}, {@link org.arunet.nn.MCSA}, {@link org.arunet.nn.ChannelAttention},
 * {@link org.arunet.nn.Decoder}, {@link org.arunet.nn.AttentionGate}. Modules own their parameters and
 * their activation memory (see {@link org.arunet.nn.Module}).
 */
package org.arunet.nn;
