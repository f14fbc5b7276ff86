package container

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/iotfleet/terraform-provider-iotfleet/helper/internal/image"
	"github.com/iotfleet/terraform-provider-iotfleet/helper/internal/server"
	"github.com/iotfleet/terraform-provider-iotfleet/internal/protocol"
)

// collectImage removes the named entry of the images folder unless a container's record still
// uses it. An image that was imported but never used stays until uninstall.
func collectImage(ctx context.Context, env *server.Env, paths Paths, name string) error {
	if name == "" {
		return nil
	}
	return withImagesLock(ctx, env, paths, func() error {
		records, err := allRecords(paths.StateDir, paths.LXCPath)
		if err != nil {
			return err
		}
		for _, r := range records {
			if r.Image == name {
				return nil
			}
		}
		return image.Remove(paths.ImagesDir(), name)
	})
}

// ImportImage checks and unpacks an uploaded tarball into the images folder.
func ImportImage(ctx context.Context, env *server.Env, params protocol.ImageImportParams) (protocol.ImageImportResult, error) {
	if err := image.ValidateSHA256("sha256", params.SHA256); err != nil {
		return protocol.ImageImportResult{}, protocol.Errorf(protocol.CodeInvalid, "%v", err)
	}
	if err := checkUpload(env.State.Path, params.Upload); err != nil {
		return protocol.ImageImportResult{}, err
	}
	paths := Paths{StateDir: env.State.Path, LXCPath: env.LXCPath}
	if err := prepareStateDir(paths); err != nil {
		return protocol.ImageImportResult{}, err
	}

	var result protocol.ImageImportResult
	err := env.State.WithShared(ctx, func(exists bool) error {
		if !exists {
			return fmt.Errorf("state folder %s disappeared; retry the import", paths.StateDir)
		}
		return withImagesLock(ctx, env, paths, func() error {
			var stats image.Stats
			var err error
			result, stats, err = image.Import(paths.ImagesDir(), params.Upload, params.SHA256)
			if err == nil && result.Imported {
				env.Log.Info("image imported", "sha256", params.SHA256, "entries", stats.Entries,
					"skipped_devices", stats.SkippedDevices, "stripped_setid_modes", stats.StrippedModes)
			}
			return err
		})
	})
	return result, err
}

// checkUpload accepts an upload path that is a clean path inside the state folder's uploads
// folder, so that an import never reads or deletes any other file of the device.
func checkUpload(stateDir, upload string) error {
	if err := server.ValidatePath("upload", upload); err != nil {
		return err
	}
	uploads := filepath.Join(stateDir, UploadsDir) + "/"
	if !strings.HasPrefix(upload, uploads) || strings.Contains(strings.TrimPrefix(upload, uploads), "/") {
		return protocol.Errorf(protocol.CodeInvalid,
			"invalid upload %q: upload the tarball into %s and name a file directly in it", upload, uploads)
	}
	info, err := os.Lstat(upload)
	if err == nil && !info.Mode().IsRegular() {
		return protocol.Errorf(protocol.CodeInvalid, "invalid upload %q: it is not a regular file", upload)
	}
	return nil
}
