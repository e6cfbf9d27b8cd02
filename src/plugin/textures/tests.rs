//! Unit tests of the plugin's textures.

use super::*;

fn textures(images: &mut Assets<Image>) -> DepthTextures {
    DepthTextures::blank(images)
}

#[test]
fn depth_goes_to_the_render_world_as_texels_and_bad_sizes_keep_the_last() {
    let mut images = Assets::<Image>::default();
    let mut textures = textures(&mut images);
    let mut map = DepthMap::from_metres(2, 1, vec![1.5, 2.5], (0.5, 10.0));
    map.sequence = 4;
    textures.set_depth(&mut images, &map, 8192).unwrap();
    let bytes: Vec<u8> = [1.5f32, 1.0, 2.5, 1.0]
        .iter()
        .flat_map(|d| d.to_le_bytes())
        .collect();
    let upload = textures.uploads.depth.clone().unwrap();
    assert_eq!(upload.bytes, bytes);
    assert_eq!(upload.size, UVec2::new(2, 1));
    let image = images.get(&textures.depth).unwrap();
    assert_eq!(image.size(), UVec2::new(2, 1));
    assert_eq!(image.asset_usage, RenderAssetUsages::RENDER_WORLD);
    assert!(image.data.is_none(), "no CPU copy");
    assert_eq!(textures.depth_sequence, Some(4));

    // Empty, or larger than the GPU allows: refused, nothing changes.
    let err = textures
        .set_depth(&mut images, &DepthMap::empty(), 8192)
        .unwrap_err();
    assert!(matches!(err, TextureError::Empty { .. }), "{err}");
    let big = DepthMap::from_metres(9000, 1, vec![1.0; 9000], (0.5, 10.0));
    let err = textures.set_depth(&mut images, &big, 8192).unwrap_err();
    assert_eq!(
        err,
        TextureError::TooLarge {
            what: "depth map",
            width: 9000,
            height: 1,
            max_side: 8192
        }
    );
    assert_eq!(
        images.get(&textures.depth).unwrap().size(),
        UVec2::new(2, 1)
    );
    assert_eq!(
        textures.uploads.depth.unwrap().generation,
        upload.generation
    );
    assert_eq!(textures.depth_sequence, Some(4));
}

#[test]
fn frames_are_shared_not_copied_and_bgra_stays_bgra() {
    let mut images = Assets::<Image>::default();
    let mut textures = textures(&mut images);
    let pixels = vec![7u8; 4 * 3 * 4 + 8];
    let frame = CameraFrame::new(PixelFormat::Bgra8, 3, 4, 3 * 4 + 2, pixels)
        .unwrap()
        .with_sequence(9);
    textures.set_background(&mut images, &frame, 8192).unwrap();
    let upload = textures.uploads.background.clone().unwrap();
    assert!(std::ptr::eq(
        upload.frame.data().as_ptr(),
        frame.data().as_ptr()
    ));
    assert_eq!(upload.format, TextureFormat::Bgra8UnormSrgb);
    let image = images.get(&textures.background).unwrap();
    assert_eq!(
        image.texture_descriptor.format,
        TextureFormat::Bgra8UnormSrgb
    );
    assert_eq!(textures.background_size, Some(UVec2::new(3, 4)));
    let tall = CameraFrame::new(PixelFormat::Rgb8, 1, 9000, 3, vec![0; 27_000]).unwrap();
    assert!(textures.set_background(&mut images, &tall, 8192).is_err());
    assert_eq!(textures.background_sequence, Some(9));
}
