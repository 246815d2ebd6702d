-- cinebox database schema for MySQL / MariaDB.
-- Generated from src/orm/models by `npm run schema`; do not edit by hand.

CREATE TABLE IF NOT EXISTS `user` (
  `id` INT NOT NULL AUTO_INCREMENT,
  `name` VARCHAR(64) NOT NULL,
  `password` VARCHAR(255) NOT NULL,
  `is_locked` TINYINT NOT NULL DEFAULT 0,
  `is_vip` TINYINT NOT NULL DEFAULT 0,
  `user_type` VARCHAR(16) NOT NULL,
  `register_time` DATETIME(3) NOT NULL,
  `quota_bytes` BIGINT NULL,
  `failed_logins` INT NOT NULL DEFAULT 0,
  `locked_until` DATETIME(3) NULL,
  PRIMARY KEY (`id`),
  UNIQUE KEY `uq_user_name` (`name`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS `movie` (
  `id` INT NOT NULL AUTO_INCREMENT,
  `name` VARCHAR(255) NOT NULL,
  `path` VARCHAR(255) NOT NULL,
  `is_free` TINYINT NOT NULL,
  `is_delete` TINYINT NOT NULL DEFAULT 0,
  `create_time` DATETIME(3) NOT NULL,
  `delete_time` DATETIME(3) NULL,
  `file_md5` VARCHAR(64) NOT NULL,
  `sha256` VARCHAR(64) NOT NULL,
  `live_sha256` VARCHAR(64) NULL,
  `size` BIGINT NOT NULL,
  `user_id` INT NOT NULL,
  PRIMARY KEY (`id`),
  UNIQUE KEY `uq_movie_live_sha256` (`live_sha256`),
  KEY `idx_movie_file_md5` (`file_md5`),
  KEY `idx_movie_sha256` (`sha256`),
  KEY `idx_movie_is_delete_is_free` (`is_delete`, `is_free`),
  KEY `idx_movie_is_delete_id` (`is_delete`, `id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS `notice` (
  `id` INT NOT NULL AUTO_INCREMENT,
  `title` VARCHAR(255) NOT NULL,
  `content` TEXT NOT NULL,
  `user_id` INT NOT NULL,
  `create_time` DATETIME(3) NOT NULL,
  PRIMARY KEY (`id`),
  KEY `idx_notice_create_time` (`create_time`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS `download_record` (
  `id` INT NOT NULL AUTO_INCREMENT,
  `user_id` INT NOT NULL,
  `movie_id` INT NOT NULL,
  `create_time` DATETIME(3) NOT NULL,
  PRIMARY KEY (`id`),
  KEY `idx_download_record_user_id` (`user_id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS `purchase` (
  `id` INT NOT NULL AUTO_INCREMENT,
  `user_id` INT NOT NULL,
  `movie_id` INT NOT NULL,
  `price` INT NOT NULL,
  `create_time` DATETIME(3) NOT NULL,
  PRIMARY KEY (`id`),
  UNIQUE KEY `uq_purchase_user_id_movie_id` (`user_id`, `movie_id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS `login_failure` (
  `id` INT NOT NULL AUTO_INCREMENT,
  `address` VARCHAR(64) NOT NULL,
  `account` VARCHAR(64) NOT NULL,
  `failures` INT NOT NULL DEFAULT 0,
  `pending` INT NOT NULL DEFAULT 0,
  `last_failure` DATETIME(3) NOT NULL,
  `blocked_until` DATETIME(3) NULL,
  PRIMARY KEY (`id`),
  UNIQUE KEY `uq_login_failure_address_account` (`address`, `account`),
  KEY `idx_login_failure_last_failure` (`last_failure`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS `address_block` (
  `id` INT NOT NULL AUTO_INCREMENT,
  `address` VARCHAR(64) NOT NULL,
  `blocks` INT NOT NULL DEFAULT 0,
  `accounts` INT NOT NULL DEFAULT 0,
  `last_block` DATETIME(3) NOT NULL,
  `blocked_until` DATETIME(3) NOT NULL,
  PRIMARY KEY (`id`),
  UNIQUE KEY `uq_address_block_address` (`address`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS `upload` (
  `id` INT NOT NULL AUTO_INCREMENT,
  `user_id` INT NOT NULL,
  `sha256` VARCHAR(64) NULL,
  `file_md5` VARCHAR(64) NOT NULL DEFAULT '',
  `temp_name` VARCHAR(64) NOT NULL,
  `total_size` BIGINT NOT NULL,
  `received_bytes` BIGINT NOT NULL DEFAULT 0,
  `holder` VARCHAR(64) NULL,
  `holder_node` VARCHAR(64) NULL,
  `holder_run` VARCHAR(32) NULL,
  `create_time` DATETIME(3) NOT NULL,
  `updated_time` DATETIME(3) NOT NULL,
  PRIMARY KEY (`id`),
  UNIQUE KEY `uq_upload_user_id_sha256` (`user_id`, `sha256`),
  KEY `idx_upload_updated_time` (`updated_time`),
  KEY `idx_upload_user_id_file_md5` (`user_id`, `file_md5`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS `media_facts` (
  `movie_id` INT NOT NULL,
  `name_key` VARCHAR(512) NOT NULL,
  `probed` TINYINT NOT NULL DEFAULT 0,
  `format` VARCHAR(16) NULL,
  `container` VARCHAR(64) NULL,
  `duration_ms` BIGINT NULL,
  `width` INT NULL,
  `height` INT NULL,
  `video_codec` VARCHAR(32) NULL,
  `audio_codec` VARCHAR(32) NULL,
  `bit_rate` BIGINT NULL,
  `streamable` TINYINT NULL,
  `probed_at` DATETIME(3) NULL,
  PRIMARY KEY (`movie_id`),
  KEY `idx_media_facts_name_key_movie_id` (`name_key`, `movie_id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS `event` (
  `id` INT NOT NULL,
  `kind` VARCHAR(32) NOT NULL,
  `payload` TEXT NOT NULL,
  `create_time` DATETIME(3) NOT NULL,
  PRIMARY KEY (`id`),
  KEY `idx_event_create_time` (`create_time`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS `event_sequence` (
  `id` INT NOT NULL,
  `last_id` INT NOT NULL,
  PRIMARY KEY (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS `viewer_policy` (
  `user_id` INT NOT NULL,
  `downloads` TINYINT NULL,
  `speed_bps` BIGINT NULL,
  `daily_bytes` BIGINT NULL,
  `daily_count` INT NULL,
  `max_sessions` INT NULL,
  PRIMARY KEY (`user_id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS `download_usage` (
  `id` INT NOT NULL AUTO_INCREMENT,
  `user_id` INT NOT NULL,
  `day` VARCHAR(10) NOT NULL,
  `bytes` BIGINT NOT NULL DEFAULT 0,
  `count` INT NOT NULL DEFAULT 0,
  PRIMARY KEY (`id`),
  UNIQUE KEY `uq_download_usage_user_id_day` (`user_id`, `day`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS `live_session` (
  `id` INT NOT NULL AUTO_INCREMENT,
  `user_id` INT NOT NULL,
  `node` VARCHAR(64) NOT NULL,
  `created_at` DATETIME(3) NOT NULL,
  PRIMARY KEY (`id`),
  KEY `idx_live_session_user_id` (`user_id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS `name_gram` (
  `id` BIGINT NOT NULL AUTO_INCREMENT,
  `gram` VARCHAR(12) NOT NULL,
  `movie_id` INT NOT NULL,
  PRIMARY KEY (`id`),
  UNIQUE KEY `uq_name_gram_gram_movie_id` (`gram`, `movie_id`),
  KEY `idx_name_gram_movie_id` (`movie_id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS `node_beat` (
  `node` VARCHAR(64) NOT NULL,
  `run` VARCHAR(32) NOT NULL,
  `beat_ms` INT NOT NULL,
  `host` VARCHAR(255) NOT NULL,
  `pid` INT NOT NULL,
  `started_at` DATETIME(3) NOT NULL,
  `beat_time` DATETIME(3) NOT NULL,
  PRIMARY KEY (`node`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
