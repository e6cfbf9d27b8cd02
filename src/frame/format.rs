//! What a frame buffer may hold: pixel formats, size limits, and why a
//! buffer is refused.

/// Widest or tallest frame accepted, in pixels.
pub const MAX_FRAME_SIDE: u32 = 16_384;
/// Largest pixel buffer accepted, in bytes (256 MiB).
pub const MAX_FRAME_BYTES: usize = 256 << 20;

/// Layout of one pixel in a frame buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PixelFormat {
    /// 3 bytes: red, green, blue.
    Rgb8,
    /// 4 bytes: red, green, blue, alpha (ignored).
    Rgba8,
    /// 4 bytes: blue, green, red, alpha (ignored) — iOS `kCVPixelFormatType_32BGRA`.
    Bgra8,
}

impl PixelFormat {
    /// Bytes per pixel.
    pub const fn bytes_per_pixel(self) -> usize {
        match self {
            PixelFormat::Rgb8 => 3,
            PixelFormat::Rgba8 | PixelFormat::Bgra8 => 4,
        }
    }

    /// Byte offsets of red, green and blue within a pixel.
    pub const fn rgb_offsets(self) -> [usize; 3] {
        match self {
            PixelFormat::Rgb8 | PixelFormat::Rgba8 => [0, 1, 2],
            PixelFormat::Bgra8 => [2, 1, 0],
        }
    }
}

/// Why a frame was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// Width or height is zero.
    #[error("frame has zero size ({width}×{height})")]
    ZeroSize {
        /// Width in pixels.
        width: u32,
        /// Height in pixels.
        height: u32,
    },
    /// Width or height is beyond [`MAX_FRAME_SIDE`], or the buffer beyond [`MAX_FRAME_BYTES`].
    #[error(
        "frame of {width}×{height} is larger than the {MAX_FRAME_SIDE}-pixel, {MAX_FRAME_BYTES}-byte limit"
    )]
    TooLarge {
        /// Width in pixels.
        width: u32,
        /// Height in pixels.
        height: u32,
    },
    /// The row stride is shorter than a row of pixels.
    #[error("row stride {stride} is shorter than {width} pixels × {bytes_per_pixel} bytes")]
    StrideTooShort {
        /// Given stride in bytes.
        stride: usize,
        /// Width in pixels.
        width: u32,
        /// Bytes per pixel of the format.
        bytes_per_pixel: usize,
    },
    /// The buffer is shorter than stride × height.
    #[error(
        "pixel buffer has {len} bytes, a {width}×{height} frame with stride {stride} needs {needed}"
    )]
    BufferTooShort {
        /// Given buffer length.
        len: usize,
        /// Bytes needed (stride × height).
        needed: usize,
        /// Width in pixels.
        width: u32,
        /// Height in pixels.
        height: u32,
        /// Stride in bytes.
        stride: usize,
    },
}

pub(crate) fn validate(
    format: PixelFormat,
    width: u32,
    height: u32,
    stride: usize,
    len: usize,
) -> Result<(), FrameError> {
    if width == 0 || height == 0 {
        return Err(FrameError::ZeroSize { width, height });
    }
    let bytes_per_pixel = format.bytes_per_pixel();
    if width > MAX_FRAME_SIDE || height > MAX_FRAME_SIDE {
        return Err(FrameError::TooLarge { width, height });
    }
    let row = width as usize * bytes_per_pixel;
    if stride < row {
        return Err(FrameError::StrideTooShort {
            stride,
            width,
            bytes_per_pixel,
        });
    }
    let needed = stride
        .checked_mul(height as usize)
        .filter(|&n| n <= MAX_FRAME_BYTES)
        .ok_or(FrameError::TooLarge { width, height })?;
    if len < needed {
        return Err(FrameError::BufferTooShort {
            len,
            needed,
            width,
            height,
            stride,
        });
    }
    Ok(())
}
