package s3store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/tollgate-go/tollgate/core"
	"github.com/tollgate-go/tollgate/core/backoff"
)

// applyFunc computes a decision from the current object. It may modify o; it returns whether
// o must be written back for the decision to take effect.
type applyFunc func(o *object) (d core.Decision, write bool, err error)

// update runs one compare-and-swap decision on (p.Name, key):
//
//  1. Known state (cached from this process's last read or write): apply, then PUT with
//     If-Match on the cached ETag. Uncontended, that is the decision's only request.
//  2. A decision that writes nothing (a denial, a peek, a release of an unknown lease) is
//     confirmed with a GET If-None-Match on the cached ETag: 304 (the state is current) or
//     the newer state, on which the decision is made again.
//  3. Unknown state: GET (404 means "never seen"), apply, PUT with If-Match, or with
//     If-None-Match: * to create.
//  4. A lost race (412, 409, or 404 on If-Match) right after deciding on cached state
//     re-reads at once: the cache was stale. A race lost on freshly read state is
//     contention: the next attempt waits a full-jitter delay (s.retry), within ctx.
//
// Every decision is the pure algorithm's on the state the successful write replaced (or the
// read confirmed), so decisions equal core's exactly. Every write increments the object's
// version, so its ETag never takes an earlier value again (see object.Version).
func (s *Store) update(ctx context.Context, key string, p core.Policy, apply applyFunc) (core.Decision, error) {
	base := s.objectBase(p.Name, key)
	e, err := s.cache.acquire(ctx, base)
	if err != nil {
		return core.Decision{}, fmt.Errorf("s3store: waiting for this process's previous decision on the key: %w", err)
	}
	defer s.cache.release(base, e)
	name := stateName(base)
	var (
		d        core.Decision
		applyErr error
	)
	attempt := func(ctx context.Context) error {
		for {
			fresh := false
			if !e.known {
				if err := s.read(ctx, name, e, false); err != nil {
					return err
				}
				fresh = true
			}
			o := e.obj
			var write bool
			d, write, applyErr = apply(&o)
			if !write && !fresh {
				changed, err := s.revalidate(ctx, name, e)
				if err != nil {
					return err
				}
				if changed {
					fresh = true
					o = e.obj
					d, write, applyErr = apply(&o)
				}
			}
			if !write {
				return nil
			}
			o.Version = e.obj.Version + 1
			err := s.put(ctx, name, e, o)
			if err == nil {
				return nil
			}
			e.known = false
			if !lostRace(err) {
				return err
			}
			if fresh {
				return fmt.Errorf("%w: %w", errLostRace, err)
			}
			// The cached state was stale: read and try again without waiting.
		}
	}
	err = backoff.Retry(ctx, s.retry, attempt, func(err error) bool { return errors.Is(err, errLostRace) })
	if err != nil {
		return core.Decision{}, fmt.Errorf("s3store: %s %s: %w", p.Name, name, err)
	}
	return d, applyErr
}

// read GETs the state object into e. A missing object is the zero state.
func (s *Store) read(ctx context.Context, name string, e *entry, conditional bool) error {
	in := &s3.GetObjectInput{Bucket: &s.bucket, Key: &name}
	if conditional && e.etag != "" {
		in.IfNoneMatch = aws.String(e.etag)
	}
	out, err := s.client.GetObject(ctx, in)
	switch {
	case err == nil:
	case conditional && isNotModified(err):
		return nil
	case isNotFound(err):
		e.known, e.etag, e.obj = true, "", object{}
		return nil
	default:
		e.known = false
		return fmt.Errorf("s3store: get %s: %w", name, err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(io.LimitReader(out.Body, maxObjectBytes+1))
	if err != nil {
		e.known = false
		return fmt.Errorf("s3store: read %s: %w", name, err)
	}
	if len(b) > maxObjectBytes {
		e.known = false
		return fmt.Errorf("s3store: state object %s is over %d bytes: not Tollgate state (reset it)", name, maxObjectBytes)
	}
	o, err := decodeObject(name, b)
	if err != nil {
		e.known = false
		return err
	}
	e.known, e.etag, e.obj = true, aws.ToString(out.ETag), o
	if e.etag == "" {
		// Without an ETag there is nothing to compare-and-swap on.
		e.known = false
		return fmt.Errorf("s3store: get %s: the server sent no ETag", name)
	}
	return nil
}

// revalidate re-reads the object unless it still has the cached ETag (a 304, no body), and
// reports whether the state changed.
func (s *Store) revalidate(ctx context.Context, name string, e *entry) (changed bool, err error) {
	etag := e.etag // "" when the object did not exist, and again when it no longer does
	if err := s.read(ctx, name, e, true); err != nil {
		return false, err
	}
	return e.etag != etag, nil
}

// put writes o over the version of the object e knows: If-Match on its ETag, or
// If-None-Match: * when it did not exist. On success e holds o and the new ETag.
func (s *Store) put(ctx context.Context, name string, e *entry, o object) error {
	b, err := json.Marshal(&o)
	if err != nil {
		return fmt.Errorf("s3store: encode state: %w", err)
	}
	in := &s3.PutObjectInput{
		Bucket:        &s.bucket,
		Key:           &name,
		Body:          bytes.NewReader(b),
		ContentLength: aws.Int64(int64(len(b))),
		ContentType:   aws.String("application/json"),
	}
	if e.etag != "" {
		in.IfMatch = aws.String(e.etag)
	} else {
		in.IfNoneMatch = aws.String("*")
	}
	out, err := s.client.PutObject(ctx, in)
	if err != nil {
		if lostRace(err) {
			return err
		}
		return fmt.Errorf("s3store: put %s: %w", name, err)
	}
	e.known, e.etag, e.obj = true, aws.ToString(out.ETag), o
	if e.etag == "" {
		e.known = false // the next decision reads the ETag back
	}
	return nil
}
