// Copyright (c) HashiCorp, Inc.
// SPDX-License-Identifier: MPL-2.0

package raft

import (
	"fmt"
	"sync"
)

// LogCache wraps any LogStore implementation to provide an
// in-memory ring buffer. This is used to cache access to
// the recently written entries. For implementations that do not
// cache themselves, this can provide a substantial boost by
// avoiding disk I/O on recent entries.
type LogCache struct {
	store LogStore

	cache []*Log
	l     sync.RWMutex
}

// NewLogCache is used to create a new LogCache with the
// given capacity and backend store.
func NewLogCache(capacity int, store LogStore) (*LogCache, error) {
	if capacity <= 0 {
		return nil, fmt.Errorf("capacity must be positive")
	}
	c := &LogCache{
		store: store,
		cache: make([]*Log, capacity),
	}
	return c, nil
}

// IsMonotonic implements the MonotonicLogStore interface. This is a shim to
// expose the underlying store as monotonically indexed or not.
func (c *LogCache) IsMonotonic() bool {
	if store, ok := c.store.(MonotonicLogStore); ok {
		return store.IsMonotonic()
	}

	return false
}

func (c *LogCache) GetLog(idx uint64, log *Log) error {
	// Check the buffer for an entry
	c.l.RLock()
	cached := c.cache[idx%uint64(len(c.cache))]
	c.l.RUnlock()

	// Check if entry is valid
	if cached != nil && cached.Index == idx {
		*log = *cached
		return nil
	}

	// Forward request on cache miss
	return c.store.GetLog(idx, log)
}

func (c *LogCache) StoreLog(log *Log) error {
	return c.StoreLogs([]*Log{log})
}

func (c *LogCache) StoreLogs(logs []*Log) error {
	err := c.store.StoreLogs(logs)
	// Insert the logs into the ring buffer, but only on success
	if err != nil {
		return fmt.Errorf("unable to store logs within log store, err: %q", err)
	}
	c.l.Lock()
	for _, l := range logs {
		c.cache[l.Index%uint64(len(c.cache))] = l
	}
	c.l.Unlock()
	return nil
}

func (c *LogCache) FirstIndex() (uint64, error) {
	return c.store.FirstIndex()
}

func (c *LogCache) LastIndex() (uint64, error) {
	return c.store.LastIndex()
}

func (c *LogCache) DeleteRange(min, max uint64) error {
	// Invalidate the deleted range in the cache. (Upstream drops the whole
	// cache, which would also drop entries staged by a leader writing in
	// parallel, not yet in the store: its replicators would then find no
	// such entry and send a snapshot instead.)
	c.l.Lock()
	for i, l := range c.cache {
		if l != nil && l.Index >= min && l.Index <= max {
			c.cache[i] = nil
		}
	}
	c.l.Unlock()

	return c.store.DeleteRange(min, max)
}

// logStager is a LogStore that can serve entries before they are stored, so
// that the leader can replicate them while it writes them to its own disk.
type logStager interface {
	// StageLogs makes the entries readable through GetLog until they are
	// stored or unstaged. It reports false, and stages nothing, if it cannot
	// hold them all.
	StageLogs(logs []*Log) bool
	// StageCapacity is how many entries can be staged at once: more would
	// evict staged entries before they are stored.
	StageCapacity() int
	// UnstageLogs forgets staged entries whose store failed.
	UnstageLogs(logs []*Log)
}

// StageLogs implements logStager: the entries go into the cache before the
// underlying store holds them.
func (c *LogCache) StageLogs(logs []*Log) bool {
	c.l.Lock()
	defer c.l.Unlock()
	// DeleteRange (snapshot compaction, on another goroutine) clears slots
	// of c.cache: read and write it only under the lock.
	if len(logs) > len(c.cache) {
		return false
	}
	for _, l := range logs {
		c.cache[l.Index%uint64(len(c.cache))] = l
	}
	return true
}

// StageCapacity implements logStager: the cache's size.
func (c *LogCache) StageCapacity() int { return len(c.cache) }

// UnstageLogs implements logStager.
func (c *LogCache) UnstageLogs(logs []*Log) {
	c.l.Lock()
	for _, l := range logs {
		slot := l.Index % uint64(len(c.cache))
		if c.cache[slot] == l {
			c.cache[slot] = nil
		}
	}
	c.l.Unlock()
}
