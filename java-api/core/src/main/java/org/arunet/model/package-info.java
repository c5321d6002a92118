/**
 * Networks: {@link org.arunet.model.ArUNet} with every option of the paper and the authors' code
 * ({@link org.arunet.model.ArUNetConfig}), and the U-Net and Attention U-Net baselines
 * ({@link org.arunet.model.UNet}); {@link org.arunet.model.Models} rebuilds one from a checkpoint's
 * architecture.
 */
package org.arunet.model;
