/**
 * Moving images as a sequence of frames ({@link org.arunet.data.video.FrameSource}): numbered-frame
 * folders and multi-frame DICOM here; video files in the {@code arunet-video} module. The streaming
 * segmenter ({@code org.arunet.infer.SegmentationStream}) reads them.
 */
package org.arunet.data.video;
