package main

// The daemon side of a pass: list, inspect, measure and remove through the
// Docker API (moby's own client, which dials npipe:// on Windows).

import (
	"context"
	"fmt"
	"time"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/client"
)

type daemon struct{ c *client.Client }

func newDaemon(host string) (*daemon, error) {
	// The API version is negotiated: the same binary talks to the pool's
	// Engine 29 and to older engines (the test bed's is 20.10, API 1.41).
	c, err := client.New(client.WithHost(host), client.WithAPIVersionNegotiation())
	if err != nil {
		return nil, fmt.Errorf("--host=%s: %w", host, err)
	}
	return &daemon{c: c}, nil
}

func (d *daemon) snapshot(ctx context.Context) (Snapshot, error) {
	inUse, err := d.inUse(ctx)
	if err != nil {
		return Snapshot{}, err
	}
	// The top-level images: every tagged one and the untagged ones without
	// children (the untagged parents go with their child, PruneChildren).
	list, err := d.c.ImageList(ctx, client.ImageListOptions{})
	if err != nil {
		return Snapshot{}, fmt.Errorf("listing images: %w", err)
	}
	images := make([]Image, 0, len(list.Items))
	for _, summary := range list.Items {
		// The list has no LastTagTime; inspect has. An image gone since the
		// list (another pass, a build's own step) is simply left out.
		img, found, err := d.inspect(ctx, summary.ID)
		if err != nil {
			return Snapshot{}, err
		}
		if found {
			images = append(images, img)
		}
	}
	all, err := d.c.ImageList(ctx, client.ImageListOptions{All: true})
	if err != nil {
		return Snapshot{}, fmt.Errorf("listing images with their parents: %w", err)
	}
	layers := make([]Layer, 0, len(all.Items))
	for _, summary := range all.Items {
		layers = append(layers, Layer{ID: summary.ID, Parent: summary.ParentID, Created: time.Unix(summary.Created, 0)})
	}
	return Snapshot{Images: images, InUse: inUse, Layers: layers}, nil
}

// current re-reads one image and whether a container uses it, just before
// it goes: on a busy node the snapshot is minutes old by then, and a build
// may have created a container from the image or tagged it since.
func (d *daemon) current(ctx context.Context, id string) (Image, bool, bool, error) {
	img, found, err := d.inspect(ctx, id)
	if err != nil || !found {
		return img, false, found, err
	}
	inUse, err := d.inUse(ctx)
	return img, inUse[id], true, err
}

// inUse holds the image IDs of all containers, running or stopped.
func (d *daemon) inUse(ctx context.Context) (map[string]bool, error) {
	containers, err := d.c.ContainerList(ctx, client.ContainerListOptions{All: true})
	if err != nil {
		return nil, fmt.Errorf("listing containers: %w", err)
	}
	inUse := map[string]bool{}
	for _, c := range containers.Items {
		inUse[c.ImageID] = true
	}
	return inUse, nil
}

func (d *daemon) inspect(ctx context.Context, id string) (Image, bool, error) {
	inspect, err := d.c.ImageInspect(ctx, id)
	if errdefs.IsNotFound(err) {
		return Image{}, false, nil
	}
	if err != nil {
		return Image{}, false, fmt.Errorf("inspecting %s: %w", id, err)
	}
	created, err := time.Parse(time.RFC3339Nano, inspect.Created)
	if err != nil {
		return Image{}, false, fmt.Errorf("inspecting %s: its Created %q: %w", id, inspect.Created, err)
	}
	return Image{
		ID: inspect.ID, Tags: inspect.RepoTags, Digests: inspect.RepoDigests,
		Created: created, LastTagTime: inspect.Metadata.LastTagTime, Size: inspect.Size,
	}, true, nil
}

// usage is the images' disk use as `docker system df` counts it.
func (d *daemon) usage(ctx context.Context) (int64, error) {
	du, err := d.c.DiskUsage(ctx, client.DiskUsageOptions{Images: true})
	if err != nil {
		return 0, fmt.Errorf("reading disk usage: %w", err)
	}
	return du.Images.TotalSize, nil
}

// remove deletes an image with its untagged parents (the classic builder's
// step images). It reports false, with the daemon's reason, when the daemon
// refused or the image was already gone: a build started to use it since
// the snapshot, or another pass took it.
func (d *daemon) remove(ctx context.Context, r Removal) (bool, string, error) {
	_, err := d.c.ImageRemove(ctx, r.Image.ID, client.ImageRemoveOptions{Force: r.Force, PruneChildren: true})
	switch {
	case err == nil:
		return true, "", nil
	case errdefs.IsNotFound(err), errdefs.IsConflict(err):
		return false, err.Error(), nil
	default:
		return false, "", fmt.Errorf("removing %s: %w", r.Image.ID, err)
	}
}

func (d *daemon) Close() error { return d.c.Close() }
