/**
 * Tensor operations the stock tfjs kernels do slowly.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { nativeBlas } from "../runtime/native_kernels.ts";

/**
 * `a @ b` for 2-D tensors, with a gradient that transposes explicitly.
 *
 * tfjs's built-in gradient of `matMul` calls `matMul` with transpose flags, which the wasm
 * backend runs 5-25x slower than a plain product. This version materialises the transposes
 * (`dA = dY·Bᵀ`, `dB = Aᵀ·dY`) so every product in the backward pass is a plain one, unless
 * native products run (lib/runtime/native_kernels.ts), which take the transpose flags at full
 * speed.
 */
export const matMul: (a: tf.Tensor2D, b: tf.Tensor2D) => tf.Tensor2D = tf.customGrad(
  // deno-lint-ignore no-explicit-any
  (a: any, b: any, save: any) => {
    save([a, b]);
    return {
      value: tf.matMul(a as tf.Tensor2D, b as tf.Tensor2D),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sa, sb] = saved as tf.Tensor2D[];
        if (nativeBlas()) {
          return [
            tf.matMul(dy as tf.Tensor2D, sb, false, true),
            tf.matMul(sa, dy as tf.Tensor2D, true, false),
          ];
        }
        return [
          tf.matMul(dy as tf.Tensor2D, tf.transpose(sb)),
          tf.matMul(tf.transpose(sa), dy as tf.Tensor2D),
        ];
      },
    };
  },
) as unknown as (a: tf.Tensor2D, b: tf.Tensor2D) => tf.Tensor2D;
