/**
 * Video files for the streaming segmenter: {@link org.arunet.video.VideoFiles} opens MP4, AVI, MOV, MKV,
 * ... as frame sources; {@link org.arunet.video.VideoWriter} writes overlay videos. FFmpeg, through
 * JavaCV.
 */
package org.arunet.video;
